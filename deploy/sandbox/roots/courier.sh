# Root "courier" for deploy/sandbox/courier-sandbox.sh: Courier IMAP and POP3 5 with the Courier
# authentication library (users come from the root's /etc/passwd through PAM). courier-imap
# needs a mail transport agent: dma is the smallest one Debian has. Read by test-root.sh.
packages=(courier-imap courier-pop dma)
