#!/usr/bin/perl
# Give (release) one unit of the semaphore with key KEY: semop +1, no SEM_UNDO.
# Run as: perl sysv_sem_give.pl KEY     Prints GAVE after the semop.
use strict;
use warnings;
use IPC::SysV qw();

my $key = shift // die "usage: $0 KEY\n";
my $id = semget($key, 0, 0) // die "semget($key): $!\n";
semop($id, pack("s!s!s!", 0, 1, 0)) || die "semop: $!\n";
$| = 1;
print "GAVE\n";
