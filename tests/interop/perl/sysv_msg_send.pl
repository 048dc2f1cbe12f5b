#!/usr/bin/perl
# perlipc's message-queue example, sending half, for aioipc's interop tests: opens the
# existing queue with the key given as first argument and sends the third argument as
# a message of the type given as second argument (packed "l! a*", as perlipc does),
# then prints "SENT".
use strict;
use warnings;
use IPC::SysV qw(S_IRUSR S_IWUSR);

my ($key, $type_sent, $sent) = @ARGV;
my $id = msgget($key, 0) // die "sysv_msg_send.pl: msgget: $!\n";
msgsnd($id, pack("l! a*", $type_sent, $sent), 0) || die "sysv_msg_send.pl: msgsnd: $!\n";
print "SENT\n";
