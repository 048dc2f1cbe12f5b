#!/usr/bin/perl
# The reading half of perlipc's shared-memory round trip: opens the existing segment
# with the key given as first argument, reads its first 60 bytes with shmread, strips
# the NUL padding as perlipc does, and prints "read: <text>".
use strict;
use warnings;
use IPC::SysV qw(S_IRUSR);

my ($key) = @ARGV;
my $id = shmget($key, 0, 0) // die "sysv_shm_read.pl: shmget: $!\n";
my $buff;
shmread($id, $buff, 0, 60) || die "sysv_shm_read.pl: shmread: $!\n";
# the buffer of shmread is zero-character end-padded.
substr($buff, index($buff, "\0")) = '';
print "read: $buff\n";
