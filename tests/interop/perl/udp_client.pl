#!/usr/bin/perl
# An IO::Socket::INET UDP client for aioipc's datagram tests: sends its second
# argument as one datagram to 127.0.0.1:<first argument>, waits up to 10 s for the
# answer, and prints it on a line of its own.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;

my ($port, $message) = @ARGV;
my $sock = IO::Socket::INET->new(
    PeerAddr => '127.0.0.1',
    PeerPort => $port,
    Proto    => 'udp',
) or die "udp_client.pl: socket: $@\n";

defined $sock->send($message) or die "udp_client.pl: send: $!\n";
IO::Select->new($sock)->can_read(10) or die "udp_client.pl: no answer within 10 s\n";
my $answer;
defined $sock->recv($answer, 65536) or die "udp_client.pl: recv: $!\n";
print "$answer\n";
close $sock;
