// popgate — POP3 accounts into one IMAP mailbox. Wiring only: see App.
#include "App.h"

int main(int argc, char** argv) { return popgate::gateway::runApp(argc, argv); }
