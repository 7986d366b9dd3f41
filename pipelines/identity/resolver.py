"""Who reported: a printed body name (and the document's context) → a placed body with a stable id.

``Resolver.resolve(printed, context)`` reads the place names at the start of the printed name
against the division registry (淮安市 → 洪泽区, each a division inside the one before), then
the body part (people's government, its office, a town or street, a zone committee, a
department). The region is the deepest division the name implies; when the name carries no
place, or a place that exists in several provinces (鼓楼区), the document's context (the
raw/MANIFEST.csv agency, the title and the opening text) must settle it — otherwise the body
stays **unresolved with the reason**, never guessed.

Tolerated variations: with/without the prefecture or province prefix, 人民政府/政府,
管理委员会/管委会, abbreviated departments (科委), full-width forms and stray markup
(``#沐阳县人民政府``), former names (洪泽县 → 洪泽区, same identity), and misprinted place names
when exactly one division fits: a look-alike character (沐/沭, data/confusables.csv) anywhere,
or one differing character among the divisions of a place the name already fixed.

The ``agency_id`` is derived from the identity only: ``<region>:gov`` (the people's government),
``<region>:office``, ``<region>:dept:<department>``, ``<county>:town:<town>``,
``<region>:zone:<zone>`` (``<zone>:zone`` for a zone with its own code), with the region's *current* code, so
a renamed county keeps its id.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

from pipelines.identity.divisions import DATA_DIR, Division, DivisionRegistry, division_registry, stem
from pipelines.identity.names import (
    DEPARTMENT, GOVERNMENT, OFFICE, TOWNSHIP, ZONE, Body, classify_body, clean, not_a_name,
)

MUNICIPALITIES = ("11", "12", "31", "50")
_NAME_END = set("省市县区旗盟州")
MAX_NAME = 16


@dataclass(frozen=True)
class Resolution:
    """How one printed name was placed (``agency_id`` is None when unresolved, with the reason)."""

    printed: str | None
    agency_id: str | None = None
    name: str | None = None
    region_code: str | None = None
    level: str | None = None
    kind: str | None = None
    parent_id: str | None = None
    match: str = "unresolved"
    reason: str | None = None

    @property
    def resolved(self) -> bool:
        """Whether the body was placed."""
        return self.agency_id is not None


@dataclass(frozen=True)
class Context:
    """What else the document says about who reported."""

    manifest_agency: str | None = None
    title: str | None = None
    opening: str | None = None

    def text(self) -> str:
        """All context, cleaned, as one string."""
        return "|".join(clean(t) for t in (self.manifest_agency, self.title, self.opening) if t)


@lru_cache(maxsize=1)
def confusables() -> dict[str, set[str]]:
    """Look-alike characters, both directions (data/confusables.csv)."""
    out: dict[str, set[str]] = {}
    with (DATA_DIR / "confusables.csv").open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            out.setdefault(r["a"], set()).add(r["b"])
            out.setdefault(r["b"], set()).add(r["a"])
    return out


class Resolver:
    """Places printed body names in the division registry."""

    def __init__(self, registry: DivisionRegistry | None = None):
        self.reg = registry or division_registry()
        self.names = dict(self.reg.by_name)
        # customary short names of autonomous divisions: 黔南州, 前郭县 (only where no division has that name)
        for d in list(self.reg.by_code.values()):
            for long, short in (("自治州", "州"), ("自治县", "县"), ("自治旗", "旗")):
                if d.name.endswith(long) and d.status == "current":
                    alias = d.name[:2] + short
                    if alias not in self.reg.by_name:
                        self.names.setdefault(alias, []).append(d)
        self._by_length: dict[int, list[str]] = {}
        for n in self.names:
            self._by_length.setdefault(len(n), []).append(n)
        # short forms usable before another place name: 江苏(省) 淮安(市) 黔南(州)
        self.short: dict[str, list[Division]] = {}
        for d in self.reg.by_code.values():
            if d.level in ("province", "city") and d.status == "current":
                s = stem(d.name)
                for form in {s, s[:2] if d.name.endswith(("自治区", "自治州")) else s}:
                    if len(form) >= 2 and form not in self.names:
                        self.short.setdefault(form, []).append(d)

    # ----------------------------------------------------------------------------------------
    # place names at the start of a printed name

    def _starting_at(self, text: str, i: int, allow_short: bool) -> list[tuple[str, list[Division], str]]:
        """(name, divisions, how) for every registry name starting at ``i``, longest first."""
        out = []
        for j in range(min(len(text), i + MAX_NAME), i + 1, -1):
            piece = text[i:j]
            if piece in self.names:
                out.append((piece, self.names[piece], "registry"))
            elif allow_short and piece in self.short:
                out.append((piece, self.short[piece], "short"))
        return out

    def _fuzzy_at(self, text: str, i: int, within: list[Division] | None) -> list[tuple[str, list[Division], str]]:
        """Misprinted place names at ``i``: a look-alike character anywhere, any one character inside a known place.

        Only names of three or more characters, with the level suffix (县/区/市 …) as printed: 新区 is
        never read as 郊区, nor 洪泽县 as some other 洪泽区.
        """
        out = []
        look = confusables()
        for j in range(i + 3, min(len(text), i + MAX_NAME) + 1):
            if text[j - 1] not in _NAME_END:
                continue
            piece = text[i:j]
            hits: dict[str, str] = {}
            for cand in self._by_length.get(len(piece), []):
                diff = [(a, b) for a, b in zip(piece, cand) if a != b]
                if len(diff) != 1 or piece[-1] != cand[-1]:
                    continue
                if diff[0][1] in look.get(diff[0][0], ()):
                    hits[cand] = "ocr_confusable"
                elif within is not None and Levenshtein.distance(piece, cand) == 1:
                    hits[cand] = "fuzzy"
            for cand, how in hits.items():
                divs = [d for d in self.names[cand] if within is None or any(self._inside(d, w) for w in within)]
                if divs and (how == "ocr_confusable" or within is not None):
                    out.append((piece, divs, how))
        return out

    def _inside(self, d: Division, outer: Division) -> bool:
        return d.code != outer.code and self.reg.is_within(d.code, outer.code)

    def parse_places(self, text: str) -> tuple[list[list[Division]], str, set[str]]:
        """(candidate divisions of each place name, the rest of the text, how the places were matched)."""
        chain: list[list[Division]] = []
        hows: set[str] = set()
        i = 0
        while i < len(text):
            within = chain[-1] if chain else None
            options = self._starting_at(text, i, allow_short=True)
            step = None
            for piece, divs, how in options:
                if within is not None:
                    divs = [d for d in divs if any(self._inside(d, w) for w in within)]
                if not divs:
                    continue
                if how == "short" and not self._starting_at(text, i + len(piece), allow_short=True):
                    continue  # 淮安 alone is not a place name here; 淮安洪泽区 is
                step = (piece, divs, how)
                break
            if step is None and i < len(text) - 1:
                fuzzy = self._fuzzy_at(text, i, within)
                rest_ok = [f for f in fuzzy if classify_body(text[i + len(f[0]):]) or self._starting_at(text, i + len(f[0]), False)]
                if len({(f[0], tuple(d.code for d in f[1])) for f in rest_ok}) == 1:
                    step = rest_ok[0]
            if step is None:
                break
            piece, divs, how = step
            if within is not None:
                # keep only the outer candidates that contain one of these
                chain[-1] = [w for w in within if any(self._inside(d, w) for d in divs)]
            chain.append(divs)
            hows.add(how)
            i += len(piece)
        return chain, text[i:], hows

    # ----------------------------------------------------------------------------------------
    # context

    def mentions(self, text: str) -> dict[str, list[Division]]:
        """Full division names (3+ characters) occurring in a text."""
        found: dict[str, list[Division]] = {}
        i = 0
        while i < len(text):
            hit = next((n for n in (text[i:j] for j in range(min(len(text), i + MAX_NAME), i + 2, -1)) if n in self.names), None)
            if hit:
                found[hit] = self.names[hit]
                i += len(hit)
            else:
                i += 1
        return found

    def region_from_text(self, text: str) -> tuple[Division | None, str]:
        """The deepest division a text's place names agree on, or (None, why not)."""
        found = self.mentions(text)
        if not found:
            return None, "names no place"
        best: list[Division] = []
        for divs in found.values():
            for d in divs:
                cur = self.reg.current(d.code) or d
                if all(any(self.reg.is_within(cur.code, o.code) for o in others) for others in found.values()):
                    best.append(cur)
        best = list({d.code: d for d in best}.values())
        if not best:
            return None, "names places in different regions (" + "、".join(found) + ")"
        depth = max(len(self.reg.ancestors(d.code)) for d in best)
        deepest = [d for d in best if len(self.reg.ancestors(d.code)) == depth]
        if len(deepest) > 1:
            return None, "names " + "、".join(d.name for d in deepest) + " (several places)"
        return deepest[0], ""

    def _pick_by_context(self, divs: list[Division], context: str) -> list[Division]:
        """The candidates one of whose containing divisions the context names."""
        keep = []
        for d in divs:
            names = set()
            for a in self.reg.ancestors(d.code):
                names.update({a.name, stem(a.name)} if len(stem(a.name)) >= 2 else {a.name})
            if any(n in context for n in names):
                keep.append(d)
        return keep

    # ----------------------------------------------------------------------------------------
    # identity

    def display_prefix(self, d: Division) -> str:
        """How a division is named in a body's name: 淮安市洪泽区, 上海市浦东新区, 上海市, 仙桃市."""
        if d.level == "county" and d.parent_code:
            parent = self.reg.get(d.parent_code)
            if parent and (parent.level == "city" or parent.code[:2] in MUNICIPALITIES) and not d.name.startswith(stem(parent.name)):
                return parent.name + d.name
        return d.name

    def government_id(self, code: str) -> str:
        """Agency id of a region's governing body: its people's government, or the committee of a functional zone."""
        d = self.reg.get(code)
        return f"{code}:zone" if d is not None and d.status == "zone" else f"{code}:gov"

    def government(self, d: Division, printed=None, match="registry", committee: bool = False) -> Resolution:
        """The people's government of a division, or its administrative committee (管理委员会) when it is a zone."""
        d = self.reg.current(d.code) or d
        parent = self.government_id(d.parent_code) if d.parent_code else None
        if committee or d.status == "zone":
            return Resolution(printed, f"{d.code}:zone", self.display_prefix(d) + "管理委员会", d.code, d.level, ZONE, parent, match)
        return Resolution(printed, f"{d.code}:gov", self.display_prefix(d) + "人民政府", d.code, d.level, GOVERNMENT, parent, match)

    def body_in(self, d: Division, body: Body, printed=None, match="registry", where: Division | None = None) -> Resolution:
        """A body of ``body``'s kind belonging to division ``d`` (``where``: a deeper division it sits in)."""
        d = self.reg.current(d.code) or d
        if body.kind == GOVERNMENT:
            return self.government(d, printed, match, committee=body.name == "管理委员会")
        prefix = self.display_prefix(d)
        owner = self.government_id(d.code)
        if body.kind == OFFICE:
            name = prefix + ("人民政府办公厅" if body.name.endswith("厅") else "人民政府办公室")
            return Resolution(printed, f"{d.code}:office", name, d.code, d.level, OFFICE, owner, match)
        if body.kind == TOWNSHIP:
            return Resolution(printed, f"{d.code}:town:{body.key}", prefix + body.name, d.code, "township", TOWNSHIP, owner, match)
        if body.kind == ZONE:
            return Resolution(printed, f"{d.code}:zone:{body.key}", prefix + body.name, d.code, d.level, ZONE, owner, match)
        region = self.reg.current(where.code) if where else d
        return Resolution(printed, f"{d.code}:dept:{body.key}", prefix + body.name, region.code, d.level, DEPARTMENT, owner, match)

    def from_id(self, agency_id: str) -> Resolution | None:
        """The body an agency id denotes (ids are derived from the identity, so this inverts them)."""
        parts = agency_id.split(":", 2)
        d = self.reg.get(parts[0])
        if d is None or len(parts) < 2:
            return None
        kind = parts[1]
        key = parts[2] if len(parts) > 2 else ""
        if kind in ("gov", "zone") and not key:
            return self.government(d, committee=kind == "zone")
        body = {
            "office": Body(OFFICE, "人民政府办公室", ""),
            "town": Body(TOWNSHIP, key + ("办事处" if key.endswith("街道") else "人民政府"), key),
            "zone": Body(ZONE, key + "管理委员会", key),
            "dept": Body(DEPARTMENT, key, key),
        }.get(kind)
        return self.body_in(d, body) if body else None

    # ----------------------------------------------------------------------------------------
    # the resolver

    def resolve(self, printed: str | None, context: Context | None = None) -> Resolution:
        """Place a printed body name (see the module docstring); unresolved with a reason when it cannot be placed."""
        context = context or Context()
        name = clean(printed)
        if not name:
            return Resolution(printed, reason="no body name printed")
        why = not_a_name(name)
        if why:
            return Resolution(printed, reason=why)
        chain, rest, hows = self.parse_places(name)
        body = classify_body(rest)
        match = "ocr_confusable" if "ocr_confusable" in hows else "fuzzy" if "fuzzy" in hows else "registry"
        if body is None and chain:
            stray = self._starting_at(rest, 0, allow_short=False)
            if stray:
                where = "、".join(sorted({self.display_prefix(d) for d in stray[0][1]}))
                return Resolution(printed, reason=f"{stray[0][0]} is not in {chain[-1][0].name} (the registry has {where})")
        if body is None:
            return Resolution(printed, reason=f"'{rest}' is not a recognised body (government, office, department, town, zone)"
                              + (f" of {chain[-1][0].name}" if chain else ""))
        ctx = context.text()
        if not chain:
            return self._placed_by_context(printed, name, body, context)
        place = list({(self.reg.current(d.code) or d).code: d for d in chain[-1]}.values())  # former + current name: one place
        if len(place) > 1:
            picked = self._pick_by_context(place, ctx)
            if len(picked) != 1:
                where = "、".join(f"{d.code} ({self.display_prefix(d)})" for d in place[:6])
                return Resolution(printed, reason=f"'{name}' could be {len(place)} places: {where}; "
                                  + ("the context names none of them" if not picked else "the context names several"))
            place = picked
            match = "context"
        d = place[0]
        if any(x.status == "renamed" for c in chain for x in c) and match == "registry":
            match = "former_name"
        if body.kind == TOWNSHIP and d.level != "county" and self.reg.children.get(d.code):
            county, why = self._county_from_context(d, ctx)
            if county is None:
                return Resolution(printed, reason=f"town '{body.key}' of {d.name}: the name gives no county and the context {why}")
            return self.body_in(county, body, printed, "context")
        if body.kind == DEPARTMENT:
            inner = self.parse_places_inside(rest, d)
            return self.body_in(d, body, printed, match, where=inner)
        if body.kind == ZONE:  # a zone named after its city (淮安市 + 淮安经济技术开发区) that has its own code
            coded = {z.current_code for z in self.names.get(body.key, []) if self._inside(z, d)}
            if len(coded) == 1:
                return self.government(self.reg.get(coded.pop()), printed, match, committee=True)
        return self.body_in(d, body, printed, match)

    def parse_places_inside(self, rest: str, owner: Division) -> Division | None:
        """A division inside ``owner`` named within a department's name (公安局荔湾区分局 → 荔湾区)."""
        found = [d for divs in self.mentions(rest).values() for d in divs if self._inside(d, owner) and d.status == "current"]
        return found[0] if len(found) == 1 else None

    def _county_from_context(self, city: Division, ctx: str) -> tuple[Division | None, str]:
        found = [d for divs in self.mentions(ctx).values() for d in divs if d.level == "county" and self._inside(d, city)]
        found = list({d.code: d for d in found}.values())
        if len(found) == 1:
            return found[0], ""
        return None, ("names no county of it" if not found else "names several of its counties")

    def _placed_by_context(self, printed, name: str, body: Body, context: Context) -> Resolution:
        """A name without a place: the region comes from the manifest's agency, else the title and opening text."""
        if body.kind == GOVERNMENT:
            return Resolution(printed, reason=f"'{name}' names no place")
        if context.manifest_agency and clean(context.manifest_agency) != name:
            hint = self.resolve(context.manifest_agency)
            if hint.resolved and hint.region_code:
                region = self.reg.get(hint.region_code)
                if hint.kind == TOWNSHIP and body.kind != TOWNSHIP:
                    return Resolution(printed, reason=f"'{name}' names no place; raw/MANIFEST.csv names a town ({hint.name})")
                return self.body_in(region, body, printed, "context")
        text = "|".join(clean(t) for t in (context.title, context.opening) if t)
        region, why = self.region_from_text(text)
        if region is None:
            return Resolution(printed, reason=f"'{name}' names no place and the document {why}")
        if body.kind == TOWNSHIP and region.level != "county":
            return Resolution(printed, reason=f"town '{body.key}': the document names no county ({region.name} only)")
        return self.body_in(region, body, printed, "context")


@lru_cache(maxsize=1)
def default_resolver() -> Resolver:
    """The resolver over the bundled registry (built once per process)."""
    return Resolver()
