import socket

# 创建操作系统提供TCP传输协议的编程接口, 返回TCP套接字对象
sd = socket.socket()

sd.connect(('192.168.7.170', 9000))

while True:
    data = input("请输入发送数据: ")
    if data == 'q':
        break
    sd.send(data.encode())
    print(sd.recv(1024).decode())

sd.close()
