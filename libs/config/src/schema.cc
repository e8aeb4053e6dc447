#include "switchboard/config/schema.h"

#include "switchboard/common/log.h"
#include "switchboard/common/signals.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace switchboard::config {
namespace {

template <typename T>
bool ParseInt(std::string_view text, T* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size() && !text.empty();
}

std::string Transform(std::string_view s, int (*f)(int)) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [f](unsigned char c) { return f(c); });
  return out;
}

}  // namespace

Schema::Schema(std::string service) : service_(std::move(service)) {}

Schema& Schema::String(std::string key, std::string* out, Check check) {
  fields_.push_back({std::move(key), Type::kString, out, 0, 0, std::move(check)});
  return *this;
}

Schema& Schema::Int(std::string key, int64_t* out, int64_t min, int64_t max) {
  fields_.push_back({std::move(key), Type::kInt, out, min, max, {}});
  return *this;
}

Schema& Schema::Bool(std::string key, bool* out) {
  fields_.push_back({std::move(key), Type::kBool, out, 0, 0, {}});
  return *this;
}

Schema& Schema::StringList(std::string key, std::vector<std::string>* out) {
  fields_.push_back({std::move(key), Type::kStringList, out, 0, 0, {}});
  return *this;
}

const Schema::Field* Schema::Find(std::string_view key) const {
  for (const Field& f : fields_) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

std::string Schema::EnvName(std::string_view key) const {
  return Transform(StrCat("SWITCHBOARD_", service_, "_", key), ::toupper);
}

absl::Status Schema::Set(const Field& f, std::string_view value, std::string_view origin) {
  auto bad = [&](std::string_view what) {
    return absl::InvalidArgumentError(
        StrCat(origin, ": field '", f.key, "': ", what));
  };
  switch (f.type) {
    case Type::kString: {
      if (f.check) {
        absl::Status s = f.check(value);
        if (!s.ok()) return bad(MessageOf(s));
      }
      *static_cast<std::string*>(f.out) = std::string(value);
      return absl::OkStatus();
    }
    case Type::kInt: {
      int64_t v = 0;
      if (!ParseInt(value, &v)) {
        return bad(StrCat("expected an integer, got '", value, "'"));
      }
      if (v < f.min || v > f.max) {
        return bad(StrCat("must be between ", f.min, " and ", f.max, ", got ", v));
      }
      *static_cast<int64_t*>(f.out) = v;
      return absl::OkStatus();
    }
    case Type::kBool: {
      std::string lower = Transform(value, ::tolower);
      if (lower == "true" || lower == "1" || lower == "yes") {
        *static_cast<bool*>(f.out) = true;
      } else if (lower == "false" || lower == "0" || lower == "no") {
        *static_cast<bool*>(f.out) = false;
      } else {
        return bad(StrCat("expected true or false, got '", value, "'"));
      }
      return absl::OkStatus();
    }
    case Type::kStringList: {
      std::vector<std::string> items;
      size_t start = 0;
      while (start <= value.size()) {
        size_t comma = value.find(',', start);
        if (comma == std::string_view::npos) comma = value.size();
        std::string_view part = TrimBlanks(value.substr(start, comma - start));
        if (!part.empty()) items.emplace_back(part);
        start = comma + 1;
      }
      *static_cast<std::vector<std::string>*>(f.out) = std::move(items);
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::Status Schema::LoadYaml(std::string_view text, std::string_view origin) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        StrCat(origin, ": not valid YAML at line ", e.mark.line + 1, ": ", e.msg));
  }
  if (root.IsNull()) return absl::OkStatus();
  if (!root.IsMap()) return absl::InvalidArgumentError(StrCat(origin, ": expected a mapping"));
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>();
    const Field* f = Find(key);
    if (f == nullptr) {
      return absl::InvalidArgumentError(StrCat(origin, ": unknown field '", key, "'"));
    }
    const YAML::Node& value = kv.second;
    if (f->type == Type::kStringList) {
      if (!value.IsSequence()) {
        return absl::InvalidArgumentError(
            StrCat(origin, ": field '", key, "': expected a list"));
      }
      std::vector<std::string> items;
      for (const auto& item : value) {
        if (!item.IsScalar()) {
          return absl::InvalidArgumentError(
              StrCat(origin, ": field '", key, "': expected a list of strings"));
        }
        items.push_back(item.as<std::string>());
      }
      *static_cast<std::vector<std::string>*>(f->out) = std::move(items);
      continue;
    }
    if (!value.IsScalar()) {
      return absl::InvalidArgumentError(
          StrCat(origin, ": field '", key, "': expected a single value"));
    }
    absl::Status s = Set(*f, value.Scalar(), origin);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Schema::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(StrCat("cannot read config file ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return LoadYaml(ss.str(), path);
}

absl::Status Schema::LoadEnv(const std::function<const char*(const char*)>& getenv) {
  for (const Field& f : fields_) {
    std::string name = EnvName(f.key);
    const char* value = getenv(name.c_str());
    if (value == nullptr) continue;
    absl::Status s = Set(f, value, name);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CheckHostPort(std::string_view value) {
  size_t colon = value.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(StrCat("expected host:port, got '", value, "'"));
  }
  std::string_view host = value.substr(0, colon);
  if (host.find(':') != std::string_view::npos &&
      !(host.size() >= 2 && host.front() == '[' && host.back() == ']')) {
    return absl::InvalidArgumentError(
        StrCat("IPv6 hosts need brackets ([::1]:port), got '", value, "'"));
  }
  int port = 0;
  if (!ParseInt(value.substr(colon + 1), &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(
        StrCat("port must be a number from 1 to 65535, got '", value, "'"));
  }
  return absl::OkStatus();
}

absl::Status CheckOptionalHostPort(std::string_view value) {
  return value.empty() ? absl::OkStatus() : CheckHostPort(value);
}

absl::Status CheckNotEmpty(std::string_view value) {
  if (value.empty()) return absl::InvalidArgumentError("must not be empty");
  return absl::OkStatus();
}

absl::Status CheckAdminTokenSha256(std::string_view value) {
  if (value.empty()) return absl::OkStatus();
  if (value.size() != 64 || value.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        "must be the SHA-256 of the admin token: 64 lowercase hex digits");
  }
  return absl::OkStatus();
}

absl::Status CheckLogLevel(std::string_view value) {
  log::Level level;
  if (!log::ParseLevel(value, &level)) {
    return absl::InvalidArgumentError(
        StrCat("must be one of debug, info, warn, error, got '", value, "'"));
  }
  return absl::OkStatus();
}

void LoadOrExit(Schema& schema, std::string_view service, int argc, char** argv) {
  auto die = [&](std::string_view message) { ExitWithError(service, message, 2); };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--config" || arg == "-c") {
      if (i + 1 >= argc) die("--config needs a file name");
      absl::Status s = schema.LoadFile(argv[++i]);
      if (!s.ok()) die(MessageOf(s));
    } else if (arg.rfind("--config=", 0) == 0) {
      absl::Status s = schema.LoadFile(std::string(arg.substr(9)));
      if (!s.ok()) die(MessageOf(s));
    } else if (arg == "--help" || arg == "-h") {
      std::printf("usage: %s [--config FILE]\n", argv[0]);
      std::exit(0);
    } else {
      die(StrCat("unknown argument '", arg, "' (usage: --config FILE)"));
    }
  }
  absl::Status s = schema.LoadEnv([](const char* name) { return std::getenv(name); });
  if (!s.ok()) die(MessageOf(s));
}

}  // namespace switchboard::config
