#!/usr/bin/perl
# perlipc, "SysV IPC": create the semaphore set (10 semaphores) that take and give use.
# Run as: perl perlipc_sysv_setup.pl KEY
# Edit (marked "EDIT"): the key is given as an argument instead of 1234.  The set is
# left in the kernel, as in perlipc: the test removes it.  ("shm key" is perlipc's
# label, though the id is a semaphore set's.)
    use IPC::SysV qw(IPC_CREAT);

    $IPC_KEY = shift;                                   # EDIT: the key given, not 1234
    $id = semget($IPC_KEY, 10, 0666 | IPC_CREAT ) // die "$!";
    print "shm key $id\n";
