"""Stable names for content-hashed built files: ``assets/index-BxQ2_9kd.js`` -> ``assets/index.js``.

A pull request's build is compared with the base branch's file by file, so every file needs a name that
is the same in both builds although its content hash is not. The knowledge of how each bundler writes its
hashes lives here as data, gitleaks-style: :data:`FORMATS` are the bundlers' documented file-name formats,
each with the alphabet and lengths of its hash and examples of real names; :data:`RULES` are the few
regular expressions that remove those hashes, each with examples of its own. The tests check every example
and, for every format, that random hashes of its alphabet and lengths always normalise
(``tests/test_bundle_names.py``).

Two rules hold, and the design follows from them:

- **The stable name never depends on the hash's characters**, only on the name's shape: any 8 characters of
  base64url after a ``-`` are a Rollup/Vite hash, also ``lodashes`` in ``vendor-lodashes.js``. A guess such
  as "a hash has a digit" fails for some real hashes (``FXkx-rrs``, ``abcdefgh``), and then the same file
  has two stable names in two builds and its growth is never measured. A name that merely looks like a
  hashed one is normalised the same way in every build, which costs nothing.
- **Two files of one build never share a stable name** (:func:`distinct_stable_names`): a collision would
  add two files' sizes under one name and hide one's growth. Files that would collide keep their own names
  (esbuild's shared ``chunk-HASH.js`` files, or two Rollup chunks both named ``index``): they are then new
  and removed files in a comparison, never a wrong match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
BASE32_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
HEX = "0123456789abcdef"
HASH_PLACEHOLDER = "[hash]"
"""The stable name of a file whose name is only a hash: ``css/a1b2c3d4e5f6a7b8.css`` -> ``css/[hash].css``."""
BUILD_PLACEHOLDER = "[build]"
"""The stable name of a Next.js build-id folder: ``static/<build id>/_buildManifest.js``."""


@dataclass(frozen=True)
class HashFormat:
    """One bundler's documented file-name format: what its hashes are made of, and real names."""

    id: str
    bundler: str
    template: str
    """The bundler's own placeholder syntax, as its documentation writes the default (or common) option."""
    alphabet: str
    """Every character the hash may hold."""
    lengths: tuple[int, ...]
    """The hash lengths the bundler writes by default or that its documentation names."""
    separator: str
    """What stands between the name and the hash ("" when the whole name is the hash)."""
    examples: tuple[tuple[str, str], ...]
    """(built name, stable name) pairs, from the bundler's documentation or a real build."""
    documented: str


@dataclass(frozen=True)
class NameRule:
    """One regular expression that removes one kind of hash from a file's base name (or its folder)."""

    id: str
    description: str
    pattern: re.Pattern[str]
    replacement: str
    examples: tuple[tuple[str, str], ...]
    """(name, stable name): what the rule alone makes of a path (the other rules are not applied)."""


# Where a hash sits: just before a dot (the extension, or the next name part: ``main.3f9a2c1b.chunk.js``,
# ``index-BxQ2_9kd.js.map``), in the base name only (folders hold no hashes, but see the build id).
_BEFORE_DOT = r"(?=\.)"
RULES: tuple[NameRule, ...] = (
    NameRule(
        "next-build-id",
        "The folder of Next.js's _buildManifest.js, _ssgManifest.js or _clientMiddlewareManifest.json is "
        "the build id (any format: a nanoid, a git commit, or what generateBuildId returns)",
        re.compile(r"(?<![^/])[^/]+(?=/_(?:build|ssg|middleware|clientMiddleware)Manifest\.js(?:on)?$)"),
        BUILD_PLACEHOLDER,
        (
            ("static/Xa1b2C3d4E5f6G7h8I9j0/_buildManifest.js", "static/[build]/_buildManifest.js"),
            ("x-Fq3_9kd2Lm/_ssgManifest.js", "[build]/_ssgManifest.js"),
            ("static/chunks/main-3f9a2c1b9e8d7f6a.js", "static/chunks/main-3f9a2c1b9e8d7f6a.js"),
            ("assets/_appManifest.js", "assets/_appManifest.js"),
        ),
    ),
    NameRule(
        "dash-base64url-8",
        "'-' and 8 base64url characters before a dot: Rollup's and Vite's [name]-[hash] (also esbuild's and "
        "Angular's base32, and Rollup's base36 or hex hashes, which are subsets)",
        re.compile(r"-[A-Za-z0-9_-]{8}" + _BEFORE_DOT),
        "",
        (
            ("assets/Dashboard-FXkx-rrs.js", "assets/Dashboard.js"),
            ("assets/index-BxQ2_9kd.js.map", "assets/index.js.map"),
            ("assets/my-component.js", "assets/my-component.js"),
        ),
    ),
    NameRule(
        "dash-hex",
        "'-' and 8 to 64 hex characters before a dot: Next.js's [name]-[contenthash:16], webpack's "
        "[name]-[contenthash]",
        re.compile(r"-[0-9a-f]{8,64}" + _BEFORE_DOT),
        "",
        (
            ("static/chunks/pages/index-3f9a2c1b9e8d7f6a.js", "static/chunks/pages/index.js"),
            ("static/chunks/574-1d6c1d9f4b2b8c3a.js", "static/chunks/574.js"),
            ("date-fns.js", "date-fns.js"),
        ),
    ),
    NameRule(
        "dot-hex",
        "'.' and 4 to 64 hex characters before a dot: webpack's [name].[contenthash] (any length), "
        "[id].[contenthash], Parcel's, Angular's and Create React App's [name].[hash]",
        re.compile(r"(?<=[^/])\.[0-9a-f]{4,64}" + _BEFORE_DOT),
        "",
        (
            ("static/js/787.3f9a2c1b.chunk.js", "static/js/787.chunk.js"),
            ("main.6671ba27bd7b0eda0a5c.css", "main.css"),
            ("jquery.min.js", "jquery.min.js"),
        ),
    ),
    NameRule(
        "whole-hex",
        "A base name that is 8 to 64 hex characters and extensions: webpack's asset modules ([hash][ext]), "
        "Next.js's CSS (static/css/<contenthash:16>.css); only when no other rule matched the name",
        re.compile(r"(?<![^/])[0-9a-f]{8,64}(?=(?:\.[A-Za-z][A-Za-z0-9]{0,15})+$)"),
        HASH_PLACEHOLDER,
        (
            ("static/css/a1b2c3d4e5f6a7b8.css", "static/css/[hash].css"),
            ("abdbd5e65b3777c4aa51.svg", "[hash].svg"),
            ("787.js", "787.js"),
        ),
    ),
)
_FOLDER_RULES = ("next-build-id",)
_LAST_RESORT_RULES = ("whole-hex",)

FORMATS: tuple[HashFormat, ...] = (
    HashFormat(
        "rollup",
        "Rollup 3+, Rolldown, Vite",
        "[name]-[hash].js",
        BASE64URL,
        (8,),
        "-",
        (
            ("assets/Dashboard-5Fva3MBD.js", "assets/Dashboard.js"),
            ("assets/Dashboard-FXkx-rrs.js", "assets/Dashboard.js"),
            ("assets/index-DsVoEOS8.css", "assets/index.css"),
            ("assets/logo-wuw-H5XK.svg", "assets/logo.svg"),
            ("assets/index-BxQ2_9kd.js.map", "assets/index.js.map"),
        ),
        "output.chunkFileNames / entryFileNames / assetFileNames: [hash] is 8 base64url characters by "
        "default (0-9, a-z, A-Z, '-', '_'); [hash:N] sets another length (then set hash_pattern); "
        "output.hashCharacters 'base36' or 'hex' are subsets",
    ),
    HashFormat(
        "rollup-hex",
        "Rollup 2, Vite 2, Rolldown with hashCharacters 'hex'",
        "[name]-[hash].js or [name].[hash].js",
        HEX,
        (8,),
        "-",
        (("assets/index-3f9a2c1b.js", "assets/index.js"), ("assets/index.3f9a2c1b.js", "assets/index.js")),
        "Rollup 2 wrote 8 hex characters; Vite 2 named files [name].[hash].js",
    ),
    HashFormat(
        "esbuild",
        "esbuild",
        "[dir]/[name]-[hash]",
        BASE32_UPPER,
        (8,),
        "-",
        (
            ("out/app-ABCD2345.js", "out/app.js"),
            ("assets/png/image-CQFGD2NG.png", "assets/png/image.png"),
        ),
        "--entry-names / --chunk-names / --asset-names: [hash] is 8 characters of upper-case base32 "
        "(A-Z, 2-7); shared chunks are all named chunk-[hash] and keep their own names (see above)",
    ),
    HashFormat(
        "angular-esbuild",
        "Angular CLI (application builder, esbuild)",
        "main-[hash].js",
        BASE32_UPPER,
        (8,),
        "-",
        (("main-ZR6VSJ3P.js", "main.js"), ("styles-5INURTSO.css", "styles.css")),
        "outputHashing 'all' names bundles [name]-[hash] with esbuild's 8-character base32 hash",
    ),
    HashFormat(
        "webpack",
        "webpack 4 and 5",
        "[name].[contenthash].js",
        HEX,
        (4, 8, 16, 20, 32),
        ".",
        (
            ("main.f860480f30dc180379ee.js", "main.js"),
            ("684.833d744b4fa92284778b.js", "684.js"),
            ("static/js/main.3f9a2c1b.js", "static/js/main.js"),
            ("static/js/787.3f9a2c1b.chunk.js", "static/js/787.chunk.js"),
            ("main.3f9a2c1b.js.LICENSE.txt", "main.js.LICENSE.txt"),
        ),
        "output.filename / chunkFilename: [contenthash], [chunkhash], [fullhash] are hex, "
        "output.hashDigestLength characters (20 by default) or [contenthash:N]; [id] is a number that "
        "stays as it is; Create React App uses [contenthash:8]",
    ),
    HashFormat(
        "webpack-asset",
        "webpack 5 asset modules",
        "[hash][ext]",
        HEX,
        (20,),
        "",
        (("abdbd5e65b3777c4aa51.svg", "[hash].svg"),),
        "output.assetModuleFilename defaults to [hash][ext][query]: the whole name is the hash",
    ),
    HashFormat(
        "parcel",
        "Parcel 2",
        "[name].[hash].[ext]",
        HEX,
        (8,),
        ".",
        (("index.c2dc1f85.js", "index.js"), ("logo.4f32dfb3.svg", "logo.svg")),
        "the default namer adds an 8-character hex content hash to every bundle but the entry HTML",
    ),
    HashFormat(
        "angular-webpack",
        "Angular CLI (browser builder, webpack)",
        "main.[contenthash].js",
        HEX,
        (16, 20),
        ".",
        (("main.2ac4b6e8a3f2d1c0.js", "main.js"), ("styles.ef46db3751d8e999.css", "styles.css")),
        "outputHashing 'all': [contenthash:16] (20 in older versions)",
    ),
    HashFormat(
        "nextjs-chunk",
        "Next.js (webpack)",
        "static/chunks/[name]-[contenthash].js",
        HEX,
        (16,),
        "-",
        (
            ("chunks/pages/index-3f9a2c1b9e8d7f6a.js", "chunks/pages/index.js"),
            ("static/chunks/framework-2c79e2a64abdb08b.js", "static/chunks/framework.js"),
            ("static/chunks/app/dashboard/page-0a1b2c3d4e5f6a7b.js", "static/chunks/app/dashboard/page.js"),
        ),
        "static/chunks/[name]-[contenthash:16].js; numbered chunks keep their number",
    ),
    HashFormat(
        "nextjs-css",
        "Next.js (webpack)",
        "static/css/[contenthash].css",
        HEX,
        (16,),
        "",
        (("static/css/a1b2c3d4e5f6a7b8.css", "static/css/[hash].css"),),
        "CSS files are named by their hash alone; several of them keep their own names",
    ),
    HashFormat(
        "nextjs-build-id",
        "Next.js",
        "static/[buildId]/_buildManifest.js",
        BASE64URL,
        (21,),
        "/",
        (
            ("Xa1b2C3d4E5f6G7h8I9j0/_buildManifest.js", "[build]/_buildManifest.js"),
            ("static/Xa1b2C3d4E5f6G7h8I9j0/_ssgManifest.js", "static/[build]/_ssgManifest.js"),
        ),
        "the build id is a 21-character nanoid unless generateBuildId returns another",
    ),
)


def _rule(rule_id: str) -> NameRule:
    return next(rule for rule in RULES if rule.id == rule_id)


_FOLDER = tuple(_rule(r) for r in _FOLDER_RULES)
_BASE = tuple(r for r in RULES if r.id not in (*_FOLDER_RULES, *_LAST_RESORT_RULES))
_LAST_RESORT = tuple(_rule(r) for r in _LAST_RESORT_RULES)


def normalise(path: str, extra_pattern: str | None = None) -> str:
    """``path`` (relative, with ``/``) without its bundler's content hash; unchanged when it has none.

    ``extra_pattern`` (the config's ``hash_pattern``) is removed first, from the whole path with a leading
    ``/``, as it always was. Then the build-id folder, then the hashes of the base name (:data:`RULES`).
    """
    name = "/" + path
    if extra_pattern:
        name = re.sub(extra_pattern, "", name)
    for rule in _FOLDER:
        name = rule.pattern.sub(rule.replacement, name)
    folder, slash, base = name.rpartition("/")
    # Every rule reads the name as built, and what any of them matched is removed at once: a rule applied
    # to what another left could see a hash's characters in a new context (``-00000000.<hash>.js``).
    spans = sorted(match.span() for rule in _BASE for match in rule.pattern.finditer(base))
    if spans:
        kept, end = [], 0
        for start, stop in spans:
            kept.append(base[end:start] if start > end else "")
            end = max(end, stop)
        stripped = "".join(kept) + base[end:]
    else:
        stripped = base
        for rule in _LAST_RESORT:
            stripped = rule.pattern.sub(rule.replacement, stripped)
    return (folder + slash + stripped)[1:]


def distinct_stable_names(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """The stable name of each ``(path, stable name)``, except that files whose stable names would be the
    same keep their own paths, so that no two files of one build share a name (paths are unique).

    A file that keeps its path can collide in turn with another's stable name (``app-ABCDEFGH.js`` is also
    the stable name of ``app-ABCDEFGH-IJKLMNOP.js``): that one keeps its path too. Each file changes at
    most once, so this is linear in the number of files.
    """
    names = [stable for _, stable in pairs]
    holders: dict[str, list[int]] = {}
    for index, stable in enumerate(names):
        holders.setdefault(stable, []).append(index)
    pending = [stable for stable, indexes in holders.items() if len(indexes) > 1]
    while pending:
        shared = pending.pop()
        for index in holders[shared]:
            path = pairs[index][0]
            if names[index] == path:
                continue  # already its own path: the others move away from it
            names[index] = path
            holders.setdefault(path, []).append(index)
            if len(holders[path]) == 2:
                pending.append(path)
        holders[shared] = [i for i in holders[shared] if names[i] == shared]
    return names
