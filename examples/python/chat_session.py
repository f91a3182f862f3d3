# 实现点对点聊天程序 (the notes' chat exercise) on netlab.ChatSession: libnetlab's chat
# session does the three requirements, so the program only reads lines and prints events.
#
#   实时收发  a thread prints the session's events while the main thread reads your lines
#   同步退出  'q' (or Ctrl-D) leaves: the peer gets every message first, then both sides end
#   防干扰    the session locks onto its peer; everybody else's datagrams are dropped (counted)
#
# Two terminals, from the source tree after building:
#   export PYTHONPATH=build/bindings/python
#   /usr/bin/python3 examples/python/chat_session.py --bind 127.0.0.1:9001
#   /usr/bin/python3 examples/python/chat_session.py --bind 127.0.0.1:9002 --peer 127.0.0.1:9001
import argparse
import sys
import threading

import netlab
from netlab import EventType


def address(text):
    host, _, port = text.rpartition(':')
    return host.strip('[]'), int(port)


def show(chat, done):
    """Print the events until the session closes."""
    for ev in chat:
        if ev.type == EventType.PEER_JOINED:
            print(f'*** {ev.data or "?"} joined from {ev.peer[0]}:{ev.peer[1]}', flush=True)
        elif ev.type == EventType.MESSAGE:
            print(f'> {ev.data}', flush=True)
        elif ev.type == EventType.PEER_LEFT:
            print('*** the peer left; press Enter', flush=True)
        elif ev.type == EventType.PEER_LOST:
            print('*** the peer stopped answering', flush=True)
        elif ev.type == EventType.CLOSED:
            done.set()  # before the line that tells the user, who may press Enter at once
            how = 'agreed' if ev.code == 0 else netlab.nl_err_name(ev.code)
            print(f'*** chat over ({how})', flush=True)
    done.set()


def main():
    ap = argparse.ArgumentParser(description='point-to-point chat on netlab.ChatSession')
    ap.add_argument('--bind', type=address, required=True, help='HOST:PORT (port 0: any)')
    ap.add_argument('--peer', type=address, help='HOST:PORT to call; without it, wait')
    ap.add_argument('--name', help='your name, shown to the peer')
    args = ap.parse_args()

    with netlab.ChatSession(bind=args.bind, peer=args.peer, name=args.name) as chat:
        host, port = chat.local_address[:2]
        print(f'listening on {host}:{port}', flush=True)
        done = threading.Event()
        printer = threading.Thread(target=show, args=(chat, done))
        printer.start()
        for line in sys.stdin:
            text = line.rstrip('\n')
            if done.is_set() or text == 'q':
                break
            if text:
                chat.send(text)
        chat.leave()   # the with statement would too; here the printer shows the end
        printer.join()
        print(f'dropped datagrams: {chat.stats().dropped}', flush=True)
    sys.exit(0 if chat.status == 0 else 3)


if __name__ == '__main__':
    main()
