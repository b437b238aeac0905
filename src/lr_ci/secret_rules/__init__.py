"""The secret rules engine, shared by every check that looks for secrets in bytes.

``lr-ci secrets`` scans files and commits with it, ``lr-ci bundle`` the files a build ships to browsers (and
the sources inside its source maps); ``env`` and ``audit`` will too. It knows nothing of git, config or
reports: :mod:`.engine` takes bytes and a path and returns hits, :mod:`.windows` reads content of any size
in overlapping windows so that memory stays bounded, :mod:`.decoding` turns content in any encoding (UTF-16
configs, binaries) into what the rules read, and ``rules/*.toml`` hold the rules as data.
"""
