# 实现点对点聊天程序 (the notes' exercise: a peer-to-peer chat) the way a learner writes it in
# Python, on libnetlab: one thread blocked in recvfrom(), the main thread reading input and
# sending. This works because netlab releases the GIL while a call waits.
#
#   实时收发  real-time send and receive: two threads, so neither side waits for the other
#   同步退出  synchronised exit: 'q' tells the peer, and both sides leave
#   防干扰    no interference: datagrams from anyone but the peer are ignored
#
# Run two of them from the source tree after building, in two terminals:
#   export PYTHONPATH=build/bindings/python
#   /usr/bin/python3 examples/python/udp_chat.py 9001 127.0.0.1 9002
#   /usr/bin/python3 examples/python/udp_chat.py 9002 127.0.0.1 9001
import sys
import threading

import netlab as socket

QUIT = 'q'


def receive(sd, peer, peer_left):
    """The receiving thread: print what the peer says until it quits or we close."""
    while True:
        try:
            data, addr = sd.recvfrom(1024)
        except OSError:
            return  # the main thread closed the socket: we are leaving
        if addr != peer:
            continue  # 防干扰: not our peer
        text = data.decode(errors='replace')
        if text == QUIT:
            print('对方已退出, 按回车键退出 (the peer left; press Enter)', flush=True)
            peer_left.set()
            return
        print('%s: %s' % (addr, text), flush=True)


def main():
    if len(sys.argv) != 4:
        sys.exit('usage: udp_chat.py LOCAL_PORT PEER_IP PEER_PORT')
    local_port, peer = int(sys.argv[1]), (sys.argv[2], int(sys.argv[3]))

    sd = socket.socket(type=socket.SOCK_DGRAM)
    sd.bind(('0.0.0.0', local_port))
    peer_left = threading.Event()
    receiver = threading.Thread(target=receive, args=(sd, peer, peer_left))
    receiver.start()
    print("聊天开始: port %d <-> %s:%d ('q' 退出 quits)" % ((local_port,) + peer), flush=True)

    while not peer_left.is_set():
        try:
            text = input()
        except EOFError:
            text = QUIT
        if peer_left.is_set():
            break
        sd.sendto(text.encode(), peer)
        if text == QUIT:
            break

    sd.close()  # wakes the receiving thread, which then ends
    receiver.join()


if __name__ == '__main__':
    main()
