#!/usr/bin/perl
# perlipc's shared-memory round trip, split in two for aioipc's interop tests: this
# half creates a segment of 2000 bytes with the key given as first argument (perlipc
# uses IPC_PRIVATE, which another process cannot open by key), writes the second
# argument into its first 60 bytes with shmwrite (NUL-padded), and prints "READY <id>".
# The segment is left for the reader to remove.
use strict;
use warnings;
use IPC::SysV qw(IPC_CREAT IPC_EXCL S_IRUSR S_IWUSR);

my ($key, $message) = @ARGV;
my $size = 2000;
my $id = shmget($key, $size, IPC_CREAT | IPC_EXCL | S_IRUSR | S_IWUSR)
    // die "sysv_shm_write.pl: shmget: $!\n";
shmwrite($id, $message, 0, 60) || die "sysv_shm_write.pl: shmwrite: $!\n";
print "READY $id\n";
