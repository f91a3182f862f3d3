import socket

sd = socket.socket(type=socket.SOCK_DGRAM)
sd.bind(('0.0.0.0', 9000))        # 我的端口 / my port
peer = ('127.0.0.1', 9001)        # 对方 / the peer

while True:
    data = input("请输入发送数据: ")  # 1. 在这里等键盘时, 收不到消息 / while it waits here, nothing is received
    if data == 'q':
        break                     # 2. 对方不知道我走了 / the peer is never told
    sd.sendto(data.encode(), peer)
    data, addr = sd.recvfrom(1024)  # 1. 在这里等消息时, 不能打字 / while it waits here, you cannot type
    print("%s: %s" % (addr, data.decode()))  # 3. 任何人发来的都收 / from anyone at all

sd.close()
