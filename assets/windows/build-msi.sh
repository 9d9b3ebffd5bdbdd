#!/usr/bin/env bash
# Builds the Windows installer on Linux with wixl and msibuild (Debian: wixl, msitools):
#   assets/windows/build-msi.sh DIR_WITH_SHEETBRIDGE_EXE OUT.msi
# DIR is relative to the project folder (wixl takes no absolute source paths). Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin_dir=$1
out=$2
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# wixl ignores Product/@Codepage and encodes the tables' text in the code page of
# WINDOWS_LANGUAGE: Simplified Chinese (936), which the database is then marked as.
export WINDOWS_LANGUAGE=zh_CN
wixl -a x64 -D Version="$version" -D CargoTargetBinDir="$bin_dir" -o "$tmp/sheetbridge.msi" \
  assets/windows/sheetbridge.wxs 2> >(grep -v -e '^$' -e 'has no property named' >&2)
printf '\r\n\r\n936\t_ForceCodepage\r\n' > "$tmp/_ForceCodepage.idt"
msibuild "$tmp/sheetbridge.msi" -i "$tmp/_ForceCodepage.idt"

# Windows older than 10: refused with a message (wixl has no <Condition>; the LaunchConditions
# action is already in both sequences). VersionNT is 601 on Windows 7, 602 on 8, and 603 on both
# 8.1 and 10; WINDOWSMAJOR is a registry value that Windows 8.1 lacks (see the .wxs).
message='核酸结果上报助手需要 Windows 10 或更新的系统，这台电脑的 Windows 版本太旧（Windows 7、8、8.1 都不能用）。请在 Windows 10 或 11 的电脑上安装，或请信息科升级系统。'
msibuild "$tmp/sheetbridge.msi" -q \
  "INSERT INTO \`LaunchCondition\` (\`Condition\`, \`Description\`) VALUES ('Installed OR (VersionNT >= 603 AND WINDOWSMAJOR)', '$message')"
mv "$tmp/sheetbridge.msi" "$out"
