#!/usr/bin/perl
# An IO::Socket::INET UDP peer for aioipc's datagram tests.  It binds 127.0.0.1 on a
# port the kernel picks, prints "READY <port>" once bound, then answers one datagram:
# the message comes back upper-cased to whoever sent it (perlipc's "UDP: Message
# Passing": send() and recv(), never print, since a datagram is not a byte stream).
use strict;
use warnings;
use IO::Socket::INET;

my $sock = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1',
    LocalPort => 0,
    Proto     => 'udp',
) or die "udp_echo_server.pl: cannot bind: $@\n";

$| = 1;
print "READY ", $sock->sockport, "\n";

my $message;
my $from = $sock->recv($message, 65536) // die "udp_echo_server.pl: recv: $!\n";
defined $sock->send(uc($message), 0, $from) or die "udp_echo_server.pl: send: $!\n";
close $sock;
