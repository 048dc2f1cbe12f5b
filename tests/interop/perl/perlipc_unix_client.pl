#!/usr/bin/perl -w
# perlipc, "Unix-Domain TCP Clients and Servers": the sample Unix-domain client,
# verbatim.  Run as: perl perlipc_unix_client.pl RENDEZVOUS
use Socket;
use strict;
my ($rendezvous, $line);

$rendezvous = shift || 'catsock';
socket(SOCK, PF_UNIX, SOCK_STREAM, 0)	|| die "socket: $!";
connect(SOCK, sockaddr_un($rendezvous))	|| die "connect: $!";
while (defined($line = <SOCK>)) {
    print $line;
}
exit;
