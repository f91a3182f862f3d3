# The course notes' TCP server (TCP应用流程 / 服务端), on libnetlab: an echo server that
# answers one message per connection, as in the notes.
# The notes' code, unchanged but for `import netlab as socket` and one fix: the notes write
# `cli.send(data)`, a typo for `cli_sd.send(data)` that raises NameError with any socket module.
# Run from the source tree after building:
#   PYTHONPATH=build/bindings/python /usr/bin/python3 examples/python/tcp_server.py
import netlab as socket

# 创建操作系统提供TCP传输协议的编程接口, 返回TCP套接字对象
sd = socket.socket()

# 给套接字对象绑定IP和端口号(必须1024以上, 65535以内)
sd.bind(('0.0.0.0', 9000))

# 告诉操作系统监听此套接字
sd.listen()


while True:
    # 等待客户端请求
    cli_sd, addr = sd.accept()

    # 处理客户端请求
    data = cli_sd.recv(1024)
    cli_sd.send(data)
    #print("%s: %s" % (addr, data.decode()))

# 关闭套接字对象
sd.close()
