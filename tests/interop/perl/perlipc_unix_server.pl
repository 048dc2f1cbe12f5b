#!/usr/bin/perl -Tw
# perlipc, "Unix-Domain TCP Clients and Servers": the sample Unix-domain server, with
# the logmsg() it shares with the Internet server.
# Run as: perl -T perlipc_unix_server.pl [NAME]
# Edits, so that it runs in a test (each marked "EDIT"): the socket name may be given
# (the test runs it in a temporary directory anyway); stdout is unbuffered so the test
# sees the log lines as they are written; the child execs /bin/echo with a fortune,
# as /usr/games/fortune is rarely installed.  It serves until it is killed, as the
# original does.
use strict;
use Socket;
use Carp;

BEGIN { $ENV{PATH} = '/usr/ucb:/bin' }
sub spawn;  # forward declaration
sub logmsg { print "$0 $$: @_ at ", scalar localtime, "\n" }

$| = 1;                                                 # EDIT: unbuffered log
my $NAME = 'catsock';
if (@ARGV) { ($NAME) = shift =~ m{^([\w./-]+)$} or die "bad name" }  # EDIT: a name
my $uaddr = sockaddr_un($NAME);
my $proto = getprotobyname('tcp');

socket(Server,PF_UNIX,SOCK_STREAM,0) 	|| die "socket: $!";
unlink($NAME);
bind  (Server, $uaddr) 			|| die "bind: $!";
listen(Server,SOMAXCONN)			|| die "listen: $!";

logmsg "server started on $NAME";

my $waitedpid;

use POSIX ":sys_wait_h";
sub REAPER {
    my $child;
    while (($waitedpid = waitpid(-1,WNOHANG)) > 0) {
        logmsg "reaped $waitedpid" . ($? ? " with exit $?" : '');
    }
    $SIG{CHLD} = \&REAPER;  # loathe SysV
}

$SIG{CHLD} = \&REAPER;


for ( $waitedpid = 0;
      accept(Client,Server) || $waitedpid;
      $waitedpid = 0, close Client)
{
    next if $waitedpid;
    logmsg "connection on $NAME";
    spawn sub {
        print "Hello there, it's now ", scalar localtime, "\n";
        exec '/bin/echo', 'Your fortune: it works both ways.'  # EDIT: not fortune
            or die "can't exec fortune: $!";
    };
}

sub spawn {
    my $coderef = shift;

    unless (@_ == 0 && $coderef && ref($coderef) eq 'CODE') {
        confess "usage: spawn CODEREF";
    }

    my $pid;
    if (!defined($pid = fork)) {
        logmsg "cannot fork: $!";
        return;
    } elsif ($pid) {
        logmsg "begat $pid";
        return; # I'm the parent
    }
    # else I'm the child -- go spawn

    open(STDIN,  "<&Client")   || die "can't dup client to stdin";
    open(STDOUT, ">&Client")   || die "can't dup client to stdout";
    ## open(STDERR, ">&STDOUT") || die "can't dup stdout to stderr";
    exit &$coderef();
}
