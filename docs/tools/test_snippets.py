#!/usr/bin/python3
"""Tests of snippets.py itself: a checker that cannot fail checks nothing.

Run: python3 docs/tools/test_snippets.py BIN_DIR [PYTHON_DIR] (the directory of the example
programs, and the directory holding the built netlab package)."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import snippets  # noqa: E402

BIN_DIR = sys.argv.pop(1) if len(sys.argv) > 1 else os.path.join(snippets.ROOT, "build",
                                                                  "examples")
# The built Python package's directory; absent when the build has no Python module (e.g. the
# sanitizer build), and then the test that needs it is skipped rather than pointed elsewhere.
# (CMake passes an empty argument for it then.)
PYTHON_DIR = sys.argv.pop(1) if len(sys.argv) > 1 else ""
PYTHON_DIR = os.path.abspath(PYTHON_DIR) if PYTHON_DIR else None


class Pure(unittest.TestCase):
    def test_interleaves_keeps_each_stream_in_order(self):
        self.assertTrue(snippets.interleaves(["a", "x", "b"], [["a", "b"], ["x"]]))
        self.assertTrue(snippets.interleaves([], [[], []]))
        self.assertFalse(snippets.interleaves(["b", "a"], [["a", "b"]]))
        self.assertFalse(snippets.interleaves(["a"], [["a", "b"]]))  # a line is missing
        self.assertFalse(snippets.interleaves(["a", "b", "c"], [["a", "b"]]))  # one too many

    def test_normalise_hides_ephemeral_ports_only(self):
        fixed = {"9000"}
        self.assertEqual(snippets.normalise("('127.0.0.1', 51234): hi", fixed),
                         "('127.0.0.1', <port>): hi")
        self.assertEqual(snippets.normalise("bind(3, 127.0.0.1:9000) = 0", fixed),
                         "bind(3, 127.0.0.1:9000) = 0")
        self.assertEqual(snippets.normalise("[::1]:40000 connected", fixed),
                         "[::1]:<port> connected")
        self.assertEqual(snippets.normalise("recv 15 bytes", fixed), "recv 15 bytes")
        self.assertEqual(snippets.normalise("[trace] poll(3, POLLOUT, 5001 ms) = 1", fixed),
                         "[trace] poll(3, POLLOUT, <ms> ms) = 1")
        self.assertNotEqual(snippets.normalise("[trace] poll(3, POLLOUT, 5001 ms) = 1", fixed),
                            snippets.normalise("[trace] poll(3, POLLOUT, 5001 ms) = 0", fixed))

    def test_normalise_hides_chat_traffic_figures_but_not_messages(self):
        line = "netlab-chat: stats: datagrams in {}, out {}, retransmits {}, messages in {}, out {}"
        self.assertEqual(snippets.normalise(line.format(7, 4, 0, 2, 0), set()),
                         snippets.normalise(line.format(9, 5, 1, 2, 0), set()))
        self.assertNotEqual(snippets.normalise(line.format(7, 4, 0, 2, 0), set()),
                            snippets.normalise(line.format(7, 4, 0, 3, 0), set()))
        self.assertNotEqual(snippets.normalise(line.format(7, 4, 0, 2, 0), set()),
                            snippets.normalise(line.format(7, 4, 0, 2, 1), set()))
        drops = "netlab-chat: drops: wrong_source {}, bad_length 1"
        self.assertNotEqual(snippets.normalise(drops.format(0), set()),
                            snippets.normalise(drops.format(1), set()))

    def test_c_function_takes_the_comment_above_and_stops_at_the_brace(self):
        src = "int x;\n/* Why.\n * More. */\nstatic int f(void)\n{\n    return 1;\n}\nint g;\n"
        lines, _ = snippets.c_function(src, "f", "t.c")
        self.assertEqual("".join(lines),
                         "/* Why.\n * More. */\nstatic int f(void)\n{\n    return 1;\n}\n")
        with self.assertRaises(ValueError):
            snippets.c_function(src, "nope", "t.c")


class Files(unittest.TestCase):
    def run_check(self, text, second=None, python_dir=PYTHON_DIR):
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for name, body in (("a.md", text), ("b.md", second)):
                if body is not None:
                    paths.append(os.path.join(d, name))
                    with open(paths[-1], "w", encoding="utf-8") as f:
                        f.write(body)
            errors, structures = [], []
            for p in paths:
                errs, st = snippets.process(p, BIN_DIR, False, python_dir)
                errors += errs
                structures.append(st)
            return errors, structures

    def test_a_block_without_a_marker_is_an_error(self):
        errors, _ = self.run_check("# T\n\n```c\nint x;\n```\n")
        self.assertEqual(len(errors), 1)
        self.assertIn("without", errors[0])

    def test_an_include_must_equal_its_source(self):
        good = snippets.extract("examples/netlab-tcp-server.c function serve")
        self.assertIn("static void serve(nl_tcp *cli)", good)
        block = "<!-- include: examples/netlab-tcp-server.c function serve -->\n```c\n{}```\n"
        self.assertEqual(self.run_check(block.format(good))[0], [])
        errors, _ = self.run_check(block.format(good.replace("1024", "2048")))
        self.assertEqual(len(errors), 1)

    def test_output_must_match_a_real_run(self):
        block = "<!-- output: netlab-demo --help -->\n```text\n{}\n```\n"
        usage = "usage: netlab-demo [--trace] [--wire[=json]]"
        self.assertEqual(self.run_check(block.format(usage))[0], [])
        self.assertEqual(len(self.run_check(block.format("usage: netlab-demo"))[0]), 1)

    def test_a_session_with_a_server_is_checked_line_by_line(self):
        session = ("<!-- session: ports 9000 -->\n```console\n"
                   "$ netlab-udp-server --host 127.0.0.1 --port 9000 &\n"
                   "$ printf 'one\\ntwo\\n' | netlab-udp-client 127.0.0.1 9000\n{}```\n")
        good = "('127.0.0.1', 1): one\n('127.0.0.1', 1): two\n"
        self.assertEqual(self.run_check(session.format(good))[0], [])
        swapped = "('127.0.0.1', 1): two\n('127.0.0.1', 1): one\n"
        self.assertEqual(len(self.run_check(session.format(swapped))[0]), 1)
        short = "('127.0.0.1', 1): one\n"
        self.assertEqual(len(self.run_check(session.format(short))[0]), 1)

    def test_two_servers_are_each_awaited_until_they_bind(self):
        session = ("<!-- session: ports 9000 9001 -->\n```console\n"
                   "$ netlab-udp-server --host 127.0.0.1 --port 9000 &\n"
                   "$ netlab-udp-server --host 127.0.0.1 --port 9001 &\n"
                   "$ echo one | netlab-udp-client 127.0.0.1 9000\n"
                   "$ echo two | netlab-udp-client 127.0.0.1 9001\n{}```\n")
        self.assertEqual(self.run_check(session.format(
            "('127.0.0.1', 1): one\n('127.0.0.1', 1): two\n"))[0], [])
        self.assertEqual(len(self.run_check(session.format("('127.0.0.1', 1): one\n"))[0]), 1)

    def test_a_background_program_keeps_its_input_open(self):
        # In plain mode netlab-chat leaves at the end of its input: with its input closed it
        # would be gone before the datagram came.
        session = ("<!-- session: ports 9000 -->\n```console\n"
                   "$ netlab-chat --plain --bind 127.0.0.1:9000 &\n"
                   "$ echo hi | netlab-udp-client 127.0.0.1 9000\n"
                   "netlab-chat: listening on 127.0.0.1:9000, waiting for a peer (plain mode)\n"
                   "netlab-chat: *** 127.0.0.1:1 joined from 127.0.0.1:1\n{}```\n")
        self.assertEqual(self.run_check(session.format("hi\n"))[0], [])
        self.assertEqual(len(self.run_check(session.format("ho\n"))[0]), 1)

    @unittest.skipUnless(PYTHON_DIR, "this build has no Python module (NETLAB_BUILD_PYTHON off)")
    def test_python_commands_use_the_built_package(self):
        block = ("<!-- session -->\n```console\n$ PYTHONPATH=build/bindings/python /usr/bin/python3"
                 " -c 'import netlab; print(netlab.SOCK_DGRAM == 2)'\nTrue\n```\n")
        self.assertEqual(self.run_check(block)[0], [])
        self.assertEqual(len(self.run_check(block, python_dir="/nonexistent")[0]), 1)

    @unittest.skipUnless(os.geteuid() == 0, "a network namespace needs root")
    def test_a_netns_session_has_a_network_of_its_own(self):
        # Only the loopback interface, up; and port 9000 keeps its number.
        block = ("<!-- session: netns ports 9000 -->\n```console\n"
                 "$ ip -o link | wc -l; ip -o link show lo | grep -c ',UP'\n1\n1\n"
                 "$ netlab-udp-server --trace --host 127.0.0.1 --port 9000 &\n"
                 "$ echo hi | netlab-udp-client 127.0.0.1 9000\n"
                 "[trace] socket(AF_INET, SOCK_DGRAM) = 3\n"
                 "[trace] bind(3, 127.0.0.1:9000) = 0\n"
                 "[trace] recvfrom(3, 1024 <- 127.0.0.1:1) = 2\n"
                 "('127.0.0.1', 1): hi\n```\n")
        self.assertEqual(self.run_check(block)[0], [])
        self.assertEqual(len(self.run_check(block.replace("1\n1\n", "2\n1\n"))[0]), 1)

    def test_a_missing_image_is_an_error(self):
        errors, _ = self.run_check("![x](diagrams/none.png)\n")
        self.assertEqual(len(errors), 1)

    def test_structures_of_two_languages_are_compared(self):
        _, (a, b) = self.run_check("# A\n## B\n<!-- phase 2: x -->\n", "# A\n<!-- phase 2: x -->\n")
        self.assertNotEqual(a[0], b[0])
        self.assertEqual(a[1], b[1])


if __name__ == "__main__":
    unittest.main()
