# shellcheck shell=bash
# Debian's OpenJDK and a few of Debian's libraries, for building and testing the linux-aarch64 release on an x86_64
# machine (sourced by scripts/dist and scripts/test-dist after lib.sh). Nothing is installed system-wide: a private apt
# configuration (its own sources, lists and status file) downloads the packages from Debian's archive into the cache,
# and dpkg-deb -x unpacks them there.
#   debian_jdk_for_aarch64        sets DEBIAN_JDK_VERSION (the Debian package version), DEBIAN_JLINK (a command array:
#                                 the amd64 jlink of that version, run with its own suite's glibc) and
#                                 DEBIAN_AARCH64_JMODS (the arm64 jmods of the same version)
#   debian_sysroot ARCH           prints a directory holding Debian's libc6, libgcc-s1, libstdc++6 and zlib1g of ARCH
#                                 (amd64 or arm64): what Debian's java needs; qemu-user runs the arm64 runtime with it
# Suite: trixie (Debian 13), where openjdk-25 is; its java needs glibc 2.38, newer than some build machines' (bookworm
# has 2.36), so the amd64 jlink runs through the ld.so of trixie's libc6 with trixie's libraries.
# Cache: $QUICFLEET_CACHE or ~/.cache/quicfleet, under debian-trixie/ (about 150 MB of packages, 550 MB with what is unpacked).

DEBIAN_SUITE=trixie
DEBIAN_JDK_PACKAGE=openjdk-25
debian_cache="${QUICFLEET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quicfleet}/debian-$DEBIAN_SUITE"

# apt-get/apt-cache with the private configuration; updates its lists when they are missing or a day old.
debian_apt() {
  local tool=$1
  shift
  local dir="$debian_cache/apt"
  local -a opts=(-o "Dir::State=$dir" -o "Dir::State::Lists=$dir/lists" -o "Dir::State::status=$dir/status"
    -o "Dir::Cache=$dir" -o "Dir::Cache::archives=$debian_cache/debs" -o "Dir::Etc::SourceList=$dir/sources.list"
    -o "Dir::Etc::SourceParts=$dir/sources.list.d" -o "Dir::Etc::Preferences=$dir/preferences"
    -o "Dir::Etc::PreferencesParts=$dir/preferences.d" -o APT::Architecture=amd64 -o APT::Architectures::=amd64
    -o APT::Architectures::=arm64 -o Acquire::Languages=none -o APT::Sandbox::User=root -q)
  if [[ ! -f $dir/sources.list ]]; then
    mkdir -p "$dir/lists/partial" "$dir/sources.list.d" "$dir/preferences.d" "$debian_cache/debs/partial"
    : >"$dir/status"
    : >"$dir/preferences"
    local mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    mirror=$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
    mirror=${mirror:-http://deb.debian.org/debian}
    [[ -r $keyring ]] || die "$keyring is missing (Debian: apt-get install debian-archive-keyring)"
    cat >"$dir/sources.list" <<EOF
deb [signed-by=$keyring] $mirror $DEBIAN_SUITE main
deb [signed-by=$keyring] $mirror $DEBIAN_SUITE-updates main
deb [signed-by=$keyring] ${mirror%/debian}/debian-security $DEBIAN_SUITE-security main
EOF
  fi
  if [[ $tool == update ]] || [[ -z $(find "$dir/updated" -mmin -1440 2>/dev/null) ]]; then
    log "apt-get update of Debian $DEBIAN_SUITE (amd64, arm64) into $dir ..."
    apt-get "${opts[@]}" update >"$dir/update.log" 2>&1 || die "apt-get update failed; see $dir/update.log"
    touch "$dir/updated"
    [[ $tool == update ]] && return
  fi
  "$tool" "${opts[@]}" "$@"
}

# Downloads (once) the .deb of package $1 at version $2 into the cache; prints its path.
debian_download() {
  local package=$1 version=$2 file
  file=$(find "$debian_cache/debs" -maxdepth 1 -name "${package%%:*}_${version//:/%3a}_${package##*:}.deb" | head -n 1)
  if [[ -z $file ]]; then
    log "downloading $package $version from Debian $DEBIAN_SUITE ..."
    (cd "$debian_cache/debs" && debian_apt apt-get download "$package=$version" >&2) \
      || die "apt-get download $package=$version failed"
    file=$(find "$debian_cache/debs" -maxdepth 1 -name "${package%%:*}_${version//:/%3a}_${package##*:}.deb" | head -n 1)
    [[ -n $file ]] || die "apt-get download $package=$version left no .deb in $debian_cache/debs"
  fi
  printf '%s\n' "$file"
}

# Prints the version apt would install of package $1 (name:arch) from the private configuration's suite.
debian_candidate() {
  debian_apt apt-cache policy "$1" | sed -n 's/^ *Candidate: *//p' | grep -v '(none)' | head -n 1
}

debian_sysroot() {
  local arch=$1 package version root
  root="$debian_cache/sysroot-$arch"
  if [[ ! -f $root/.complete ]]; then
    rm -rf "$root"
    mkdir -p "$root"
    for package in libc6 libgcc-s1 libstdc++6 zlib1g; do
      version=$(debian_candidate "$package:$arch")
      [[ -n $version ]] || die "Debian $DEBIAN_SUITE has no $package for $arch"
      dpkg-deb -x "$(debian_download "$package:$arch" "$version")" "$root"
    done
    # merged /usr: the loaders look in /lib (e.g. /lib/ld-linux-aarch64.so.1)
    [[ -e $root/lib ]] || ln -s usr/lib "$root/lib"
    [[ -e $root/lib64 || ! -d $root/usr/lib64 ]] || ln -s usr/lib64 "$root/lib64"
    touch "$root/.complete"
  fi
  printf '%s\n' "$root"
}

debian_jdk_for_aarch64() {
  local version jdk_amd64 jdk_arm64 sysroot
  version=$(debian_candidate "$DEBIAN_JDK_PACKAGE-jdk-headless:arm64")
  [[ -n $version ]] || die "Debian $DEBIAN_SUITE has no $DEBIAN_JDK_PACKAGE-jdk-headless for arm64"
  [[ $(debian_candidate "$DEBIAN_JDK_PACKAGE-jre-headless:amd64") == "$version" ]] \
    || die "Debian $DEBIAN_SUITE has $DEBIAN_JDK_PACKAGE $version for arm64 but not for amd64 (a mirror mid-update?): \
jlink needs both of one build; try again later"
  jdk_amd64="$debian_cache/$DEBIAN_JDK_PACKAGE-$version-amd64"
  jdk_arm64="$debian_cache/$DEBIAN_JDK_PACKAGE-$version-arm64"
  if [[ ! -f $jdk_amd64/.complete ]]; then
    rm -rf "$jdk_amd64"
    mkdir -p "$jdk_amd64"
    dpkg-deb -x "$(debian_download "$DEBIAN_JDK_PACKAGE-jre-headless:amd64" "$version")" "$jdk_amd64"
    # conf/ links to /etc/java-25-openjdk, which the package also carries: make the unpacked JDK self-contained.
    local home=("$jdk_amd64"/usr/lib/jvm/java-*-openjdk-amd64)
    rm -rf "${home[0]}/conf"
    cp -r "$jdk_amd64"/etc/java-*-openjdk "${home[0]}/conf"
    touch "$jdk_amd64/.complete"
  fi
  if [[ ! -f $jdk_arm64/.complete ]]; then
    rm -rf "$jdk_arm64"
    mkdir -p "$jdk_arm64"
    # Only the jmods of this 300 MB package are used.
    dpkg-deb --fsys-tarfile "$(debian_download "$DEBIAN_JDK_PACKAGE-jdk-headless:arm64" "$version")" \
      | tar -x -C "$jdk_arm64" --wildcards '*/jmods/*'
    touch "$jdk_arm64/.complete"
  fi
  sysroot=$(debian_sysroot amd64)
  local java=("$jdk_amd64"/usr/lib/jvm/java-*-openjdk-amd64/bin/java)
  local jmods=("$jdk_arm64"/usr/lib/jvm/java-*-openjdk-arm64/jmods)
  [[ -x ${java[0]} && -f ${jmods[0]}/java.base.jmod ]] || die "the unpacked Debian JDK in $debian_cache is incomplete"
  DEBIAN_JDK_VERSION=$version
  DEBIAN_AARCH64_JMODS=${jmods[0]}
  DEBIAN_JLINK=("$sysroot/lib64/ld-linux-x86-64.so.2" --library-path "$sysroot/usr/lib/x86_64-linux-gnu" "${java[0]}"
    -m jdk.jlink/jdk.tools.jlink.internal.Main)
}
