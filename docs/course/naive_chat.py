import socket

sd = socket.socket(type=socket.SOCK_DGRAM)
sd.bind(('0.0.0.0', 9000))        # 我的端口 / my port
peer = ('127.0.0.1', 9001)        # 对方 / the peer

while True:
    # 1. 在这里等键盘时, 收不到消息 / while it waits for the keyboard, nothing is received
    data = input("请输入发送数据: ")
    if data == 'q':
        # 2. 对方不知道我走了 / the peer is never told
        break
    sd.sendto(data.encode(), peer)
    # 1. 在这里等消息时, 不能打字 / while it waits for a message, you cannot type
    data, addr = sd.recvfrom(1024)
    # 3. 任何人发来的都收 / a datagram from anyone at all is taken
    print("%s: %s" % (addr, data.decode()))

sd.close()
