#!/usr/bin/perl
# perlipc, "SysV IPC": "give" -- decrement semaphore 0 of the set.
# Run as: perl perlipc_sysv_give.pl KEY
# Edit (marked "EDIT"): the key is given as an argument instead of 1234.
    # 'give' the semaphore
    # run this in the original process and you will see
    # that the second process continues

    $IPC_KEY = shift;                                   # EDIT: the key given, not 1234
    $id = semget($IPC_KEY, 0, 0);
    die if !defined($id);

    $semnum = 0;
    $semflag = 0;

    # Decrement the semaphore count
    $semop = -1;
    $opstring = pack("s!s!s!", $semnum, $semop, $semflag);

    semop($id,$opstring) || die "$!";
