#!/usr/bin/perl -Tw
# perlipc, "Internet TCP Clients and Servers": the sample TCP server.
# Run as: perl -T perlipc_tcp_server.pl PORT
# Edits, so that it runs in a test (each marked "EDIT"): it listens on loopback, not
# INADDR_ANY; port 0 is taken as "any free port" and the bound port is logged; stdout
# is unbuffered so the test sees the log lines as they are written.  It serves until
# it is killed, as the original does.
use strict;
BEGIN { $ENV{PATH} = '/usr/ucb:/bin' }
use Socket;
use Carp;
my $EOL = "\015\012";

sub logmsg { print "$0 $$: @_ at ", scalar localtime, "\n" }

$| = 1;                                                 # EDIT: unbuffered log
my $port = shift // 2345;                               # EDIT: // so that 0 is kept
my $proto = getprotobyname('tcp');

($port) = $port =~ /^(\d+)$/                        or die "invalid port";

socket(Server, PF_INET, SOCK_STREAM, $proto)	|| die "socket: $!";
setsockopt(Server, SOL_SOCKET, SO_REUSEADDR,
				pack("l", 1)) 	|| die "setsockopt: $!";
bind(Server, sockaddr_in($port, INADDR_LOOPBACK))	|| die "bind: $!";  # EDIT: loopback
listen(Server,SOMAXCONN) 				|| die "listen: $!";
($port) = sockaddr_in(getsockname(Server));             # EDIT: the port bound

logmsg "server started on port $port";

my $paddr;

$SIG{CHLD} = \&REAPER;

for ( ; $paddr = accept(Client,Server); close Client) {
    my($port,$iaddr) = sockaddr_in($paddr);
    my $name = gethostbyaddr($iaddr,AF_INET);

    logmsg "connection from $name [",
	    inet_ntoa($iaddr), "]
	    at port $port";

    print Client "Hello there, $name, it's now ",
		    scalar localtime, $EOL;
}
