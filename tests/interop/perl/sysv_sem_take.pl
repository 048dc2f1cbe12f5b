#!/usr/bin/perl
# Take (acquire) one unit of the semaphore with key KEY, blocking in the kernel.
# Run as: perl sysv_sem_take.pl KEY     Prints READY once the set is open, TOOK after
# the semop returns.
use strict;
use warnings;
use IPC::SysV qw();

my $key = shift // die "usage: $0 KEY\n";
my $id = semget($key, 0, 0) // die "semget($key): $!\n";
$| = 1;
print "READY\n";
semop($id, pack("s!s!s!", 0, -1, 0)) || die "semop: $!\n";
print "TOOK\n";
