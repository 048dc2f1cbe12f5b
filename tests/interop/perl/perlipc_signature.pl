#!/usr/bin/perl
# perlipc, "Named Pipes": the .signature FIFO writer.
# Run as: perl perlipc_signature.pl DIRECTORY
# Edit, so that it runs in a test (marked "EDIT"): it goes to the directory given
# instead of home.  It writes until it is killed, as the original does; without
# fortune(1) installed, the signature is the name line alone.
chdir(shift); # go home                                 # EDIT: a directory given
$FIFO = '.signature';

while (1) {
    unless (-p $FIFO) {
        unlink $FIFO;
        require POSIX;
        POSIX::mkfifo($FIFO, 0700)
            or die "can't mkfifo $FIFO: $!";
    }

    # next line blocks until there's a reader
    open (FIFO, "> $FIFO") || die "can't write $FIFO: $!";
    print FIFO "John Smith (smith\@host.org)\n", `fortune -s`;
    close FIFO;
    sleep 2;    # to avoid dup signals
}
