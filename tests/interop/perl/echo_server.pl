#!/usr/bin/perl
# An IO::Socket::INET server for aioipc's interop tests.  It listens on 127.0.0.1 on a
# port the kernel picks, prints "READY <port>" once it is listening, then serves one
# client: every line comes back upper-cased.  As perlipc's "Internet Line Terminators"
# advises, it accepts "\n" or "\r\n" and ends its own lines with "\015\012".
use strict;
use warnings;
use IO::Socket::INET;

my $server = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1',
    LocalPort => 0,
    Proto     => 'tcp',
    Listen    => 5,
    ReuseAddr => 1,
) or die "echo_server.pl: cannot listen: $@\n";

$| = 1;
print "READY ", $server->sockport, "\n";

my $client = $server->accept or die "echo_server.pl: accept: $!\n";
$client->autoflush(1);
while (my $line = <$client>) {
    $line =~ s/\015?\012\z//;
    print $client uc($line), "\015\012";
}
close $client;
close $server;
