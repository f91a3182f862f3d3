# The course notes' UDP client (网络编程 / UDP应用流程 / 客户端), on libnetlab.
# The notes' code, unchanged but for `import netlab as socket` and the server's address:
# 127.0.0.1 here (the notes use the lecturer's 192.168.7.170).
# Run from the source tree after building (type lines, 'q' quits):
#   PYTHONPATH=build/bindings/python /usr/bin/python3 examples/python/udp_client.py
import netlab as socket

# 创建操作系统提供UDP传输协议的编程接口, 返回UDP套接字对象
sd = socket.socket(type=socket.SOCK_DGRAM)

while True:
    data = input("请输入发送数据: ")
    if data == 'q':
        break
    sd.sendto(data.encode(), ('127.0.0.1', 9000))

sd.close()
