#!/usr/bin/perl
# perlipc's message-queue example, receiving half, for aioipc's interop tests: opens
# the existing queue with the key given as first argument, prints "READY", then waits
# in a blocking msgrcv for a message of the type given as second argument (0: any;
# msgrcv's rules), and prints "<type> <message>".
use strict;
use warnings;
use IPC::SysV qw(S_IRUSR S_IWUSR);

$| = 1;
my ($key, $type_wanted) = @ARGV;
my $id = msgget($key, 0) // die "sysv_msg_receive.pl: msgget: $!\n";
print "READY\n";
my $rcvd;
msgrcv($id, $rcvd, 60, $type_wanted, 0) || die "sysv_msg_receive.pl: msgrcv: $!\n";
my ($type_rcvd, $message) = unpack("l! a*", $rcvd);
print "$type_rcvd $message\n";
