#!/usr/bin/perl
# perlipc, "SysV IPC": "take" -- wait for semaphore 0 of the set to be zero, then
# increment it, in one semop.
# Run as: perl perlipc_sysv_take.pl KEY
# Edit (marked "EDIT"): the key is given as an argument instead of 1234.
    # create a semaphore

    $IPC_KEY = shift;                                   # EDIT: the key given, not 1234
    $id = semget($IPC_KEY,  0 , 0 );
    die if !defined($id);

    $semnum = 0;
    $semflag = 0;

    # 'take' semaphore
    # wait for semaphore to be zero
    $semop = 0;
    $opstring1 = pack("s!s!s!", $semnum, $semop, $semflag);

    # Increment the semaphore count
    $semop = 1;
    $opstring2 = pack("s!s!s!", $semnum, $semop,  $semflag);
    $opstring = $opstring1 . $opstring2;

    semop($id,$opstring) || die "$!";
