#!/usr/bin/perl -Tw
# perlipc's forking TCP server: perlipc(1), "Internet TCP Clients and Servers", the
# server that "spawns (forks) a slave server to handle the client request" (the one
# with spawn() and the REAPER), as printed there.  The benchmark's reference for
# aioipc.serve and aioipc.serve_forking (benchmarks/_family_servers.py).
# Run as: perl -T perlipc_forking_server.pl PORT
# Edits, each marked "EDIT": it listens on loopback, not INADDR_ANY; port 0 is taken
# as "any free port" and the bound port is reported as "READY <port>" on stderr (the
# log on stdout goes to /dev/null in the benchmark); the child answers by exec'ing
# `head -n 1` (it echoes the client's line, the same program serve_forking runs)
# instead of printing a greeting and exec'ing /usr/games/fortune.  It serves until it
# is killed, as the original does.
use strict;
BEGIN { $ENV{PATH} = "/usr/bin:/bin" }
use Socket;
use Carp;
my $EOL = "\015\012";

sub spawn;  # forward declaration
sub logmsg { print "$0 $$: @_ at ", scalar localtime(), "\n" }

my $port  = shift // 2345;                                  # EDIT: // so that 0 is kept
die "invalid port" unless $port =~ /^ \d+ $/x;
($port) = $port =~ /^(\d+)$/;                               # EDIT: untainted for -T

my $proto = getprotobyname("tcp");

socket(Server, PF_INET, SOCK_STREAM, $proto)    || die "socket: $!";
setsockopt(Server, SOL_SOCKET, SO_REUSEADDR, pack("l", 1))
                                                || die "setsockopt: $!";
bind(Server, sockaddr_in($port, INADDR_LOOPBACK)) || die "bind: $!";  # EDIT: loopback
listen(Server, SOMAXCONN)                       || die "listen: $!";
($port) = sockaddr_in(getsockname(Server));                 # EDIT: the port bound
{ local $| = 1; print STDERR "READY $port\n"; }             # EDIT: report it

logmsg "server started on port $port";

my $waitedpid = 0;
my $paddr;

use POSIX ":sys_wait_h";
use Errno;

sub REAPER {
    local $!;   # don't let waitpid() overwrite current error
    while ((my $pid = waitpid(-1, WNOHANG)) > 0 && WIFEXITED($?)) {
        logmsg "reaped $waitedpid" . ($? ? " with exit $?" : "");
    }
    $SIG{CHLD} = \&REAPER;  # loathe SysV
}

$SIG{CHLD} = \&REAPER;

while(1) {
    $paddr = accept(Client, Server) || do {
        # try again if accept() returned because got a signal
        next if $!{EINTR};
        die "accept: $!";
    };
    my ($port, $iaddr) = sockaddr_in($paddr);
    my $name = gethostbyaddr($iaddr, AF_INET);

    logmsg "connection from $name [",
           inet_ntoa($iaddr),
           "] at port $port";

    spawn sub {
        $| = 1;
        exec "head", "-n", "1"                              # EDIT: echo the line
            or confess "can't exec head: $!";
    };
    close Client;
}

sub spawn {
    my $coderef = shift;

    unless (@_ == 0 && $coderef && ref($coderef) eq "CODE") {
        confess "usage: spawn CODEREF";
    }

    my $pid;
    unless (defined($pid = fork())) {
        logmsg "cannot fork: $!";
        return;
    }
    elsif ($pid) {
        logmsg "begat $pid";
        return; # I'm the parent
    }
    # else I'm the child -- go spawn

    open(STDIN,  "<&Client")    || die "can't dup client to stdin";
    open(STDOUT, ">&Client")    || die "can't dup client to stdout";
    ## open(STDERR, ">&STDOUT") || die "can't dup stdout to stderr";
    exit($coderef->());
}
