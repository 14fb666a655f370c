# twisted-pop3.tac — Twisted's POP3 server (twisted.mail.pop3.POP3, python3-twisted 22.4) on
# 127.0.0.1 for the interop tests; run by deploy/sandbox/twisted-sandbox.sh with twistd3 -y.
#
# `twistd mail --pop3 ... --maildirdbmdomain ... --user ...` is what Twisted offers for this, and
# under Python 3 it cannot log anybody in (Twisted 22.4): --user stores str keys in a DirDBM that
# wants bytes ("DirDBM key must be bytes"), MailService.addDomain registers its password checkers
# with a lazy map() that never runs ("No checker for IUsernamePassword"), and the domain table
# holds str names that the bytes of a USER command never match. Its MaildirMailbox then hashes a
# str for UIDL ("Strings must be encoded before hashing"). So this file wires the same protocol
# class to a portal of its own and a small maildir mailbox; what a client sees on the wire is
# Twisted's POP3 (greeting with an APOP timestamp, CAPA "PIPELINE CELERITY AUSPEX POTENCE", LIST
# sizes as the files are, CRLF lines).
#
# Environment: SANDBOX_MAIL (directory with a maildir per user), SANDBOX_POP3_PORT, SANDBOX_USERS
# (space-separated; each logs in with the password "pw-USER").
import hashlib
import os

from twisted.application import internet, service
from twisted.cred import checkers, portal
from twisted.internet import endpoints, protocol, reactor
from twisted.mail import pop3
from zope.interface import implementer

MAIL = os.environ["SANDBOX_MAIL"]
PORT = int(os.environ["SANDBOX_POP3_PORT"])
USERS = os.environ["SANDBOX_USERS"].split()


class MaildirBox(pop3.Mailbox):
    """One user's maildir as a POP3 maildrop: the files of cur/ and new/ in name order, deleted at
    the end of a session that QUITs (sync)."""

    def __init__(self, path):
        self.files = sorted(os.path.join(path, sub, name)
                            for sub in ("cur", "new") for name in os.listdir(os.path.join(path, sub)))
        self.deleted = set()

    def listMessages(self, i=None):
        if i is None:
            return [0 if n in self.deleted else os.path.getsize(f) for n, f in enumerate(self.files)]
        return os.path.getsize(self.files[i])

    def getMessage(self, i):
        return open(self.files[i], "rb")

    def getUidl(self, i):
        # The file's base name is unique and stable: a hash of it is too.
        name = os.path.basename(self.files[i]).split(":")[0]
        return hashlib.md5(name.encode()).hexdigest().encode()

    def deleteMessage(self, i):
        self.deleted.add(i)

    def undeleteMessages(self):
        self.deleted.clear()

    def sync(self):
        for i in sorted(self.deleted):
            os.unlink(self.files[i])
        self.deleted.clear()


@implementer(portal.IRealm)
class Realm:
    def requestAvatar(self, avatar_id, mind, *interfaces):
        if pop3.IMailbox not in interfaces:
            raise NotImplementedError("POP3 only")
        return pop3.IMailbox, MaildirBox(os.path.join(MAIL, avatar_id.decode())), lambda: None


class Factory(protocol.ServerFactory):
    def __init__(self):
        users = {u: ("pw-" + u).encode() for u in USERS}
        self.portal = portal.Portal(Realm(), [checkers.InMemoryUsernamePasswordDatabaseDontUse(**users)])

    def buildProtocol(self, addr):
        p = pop3.POP3()
        p.portal = self.portal
        p.factory = self
        return p


application = service.Application("popgate-sandbox-twisted")
listen = endpoints.serverFromString(reactor, "tcp:%d:interface=127.0.0.1" % PORT)
internet.StreamServerEndpointService(listen, Factory()).setServiceParent(application)
