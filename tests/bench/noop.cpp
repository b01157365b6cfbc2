// SPDX-License-Identifier: GPL-2.0-or-later
// The exec floors: a program that does nothing. Built static, dynamic (libc
// only), and dynamic with tapgate's libraries forced in, so the table shows
// what process start, dynamic loading and those libraries cost by themselves.
int main() { return 0; }
