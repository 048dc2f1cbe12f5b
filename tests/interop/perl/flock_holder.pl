#!/usr/bin/perl
# Holds an exclusive flock the way perlipc does (flock(FH, 2), blocking), for
# tests/test_locks.py.  Run as: perl flock_holder.pl PATH
# Prints READY once it holds the lock; a line "release" on stdin writes
# "released by PID" into the file, unlocks and prints RELEASED; exits at end of input.
use strict;
use warnings;
use Fcntl qw(:flock O_RDWR O_CREAT);

$| = 1;
my $path = shift // die "usage: $0 PATH\n";
sysopen(my $fh, $path, O_RDWR | O_CREAT, 0600) or die "can't open $path: $!";
flock($fh, 2) or die "can't flock $path: $!";   # 2 is LOCK_EX, as in perlipc
print "READY\n";
while (my $line = <STDIN>) {
    chomp $line;
    if ($line eq "release") {
        truncate($fh, 0) or die "truncate: $!";
        syswrite($fh, "released by $$\n") or die "write: $!";
        flock($fh, LOCK_UN) or die "unlock: $!";
        print "RELEASED\n";
    }
}
