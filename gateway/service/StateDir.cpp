#include "StateDir.h"

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include <sys/stat.h>
#include <unistd.h>

#include "Logging.h"
#include "connectors/common/Error.h"

namespace popgate::gateway {

namespace {

std::string octal(mode_t mode) {
  std::string out;
  for (int shift = 9; shift >= 0; shift -= 3) {
    out += static_cast<char>('0' + ((static_cast<unsigned>(mode) >> shift) & 7u));
  }
  return out;
}

}  // namespace

void prepareStateDir(const std::filesystem::path& dir, const std::filesystem::path& source) {
  const std::string where = source.string() + ": state_dir " + dir.string();
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    // Parents come with the umask (077 by then); the directory itself is 0700 whatever it is.
    std::filesystem::create_directories(dir.parent_path(), ec);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      throw Error(ErrorKind::Config, where + ": cannot create it: " + std::strerror(errno));
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    throw Error(ErrorKind::Config, where + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) throw Error(ErrorKind::Config, where + ": not a directory");
  const uid_t me = ::geteuid();
  if (st.st_uid != me) {
    throw Error(ErrorKind::Config,
                where + " belongs to uid " + std::to_string(st.st_uid) +
                    ", but popgate runs as uid " + std::to_string(me) +
                    "; another user could change what popgate delivers: " + "chown it to uid " +
                    std::to_string(me) + " or name a directory popgate creates");
  }
  const mode_t mode = st.st_mode & 07777;
  if ((mode & 022) != 0) {
    throw Error(ErrorKind::Config,
                where + " is writable by other users (mode " + octal(mode) +
                    "); they could change what popgate delivers: chmod 700 it, or name a "
                    "subdirectory that popgate creates itself");
  }
  if ((mode & 077) != 0) {
    if (::chmod(dir.c_str(), mode & 07700) != 0) {
      throw Error(ErrorKind::Config, where + ": cannot make it private (mode " + octal(mode) +
                                         "): " + std::strerror(errno));
    }
    logInfo("state_dir " + dir.string() + " was readable by other users (mode " + octal(mode) +
            "); it is now " + octal(mode & 07700) + ": it holds mail");
  }
}

}  // namespace popgate::gateway
