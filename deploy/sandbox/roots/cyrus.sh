# Root "cyrus" for deploy/sandbox/cyrus-sandbox.sh: Cyrus IMAP 3.6 (imapd and pop3d under its
# master process) and the SASL tools that make its users. Read by test-root.sh.
packages=(cyrus-imapd cyrus-pop3d sasl2-bin)
