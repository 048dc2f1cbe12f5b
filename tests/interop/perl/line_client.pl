#!/usr/bin/perl
# An IO::Socket::INET client for aioipc's interop tests.
#
#   perl line_client.pl HOST PORT LINE...
#
# Sends each LINE and prints the server's one-line answer to it on stdout.  The first
# line goes out ending in a bare "\n" and the rest in "\015\012", so the server must
# accept both; the answers may end in either.
use strict;
use warnings;
use IO::Socket::INET;

my ($host, $port, @lines) = @ARGV;
die "usage: $0 HOST PORT LINE...\n" unless defined $port && @lines;

my $socket = IO::Socket::INET->new(
    PeerAddr => $host,
    PeerPort => $port,
    Proto    => 'tcp',
) or die "line_client.pl: cannot connect to $host:$port: $@\n";
$socket->autoflush(1);

my $end = "\n";
for my $line (@lines) {
    print $socket $line, $end;
    $end = "\015\012";
    my $answer = <$socket>;
    die "line_client.pl: the server closed the connection\n" unless defined $answer;
    $answer =~ s/\015?\012\z//;
    print "$answer\n";
}
close $socket;
