"""Synthetic Nordic customer bases and noisy social profiles (tests, demo, benchmarks).

Real customer data cannot ship with the project, so tests and the live-lookup benchmark
draw people from Finnish and Swedish name lists and derive what a social profile of the
same person looks like (diacritics dropped, a letter doubled or lost, a handle made of
the name, only a city instead of an address).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GIVEN = [
    "Matti",
    "Mikko",
    "Juha",
    "Timo",
    "Jari",
    "Antti",
    "Pekka",
    "Kari",
    "Jukka",
    "Markku",
    "Mika",
    "Heikki",
    "Ville",
    "Jussi",
    "Tuomas",
    "Sami",
    "Janne",
    "Petri",
    "Olli",
    "Teemu",
    "Eero",
    "Onni",
    "Väinö",
    "Aatu",
    "Leevi",
    "Elias",
    "Oskari",
    "Lauri",
    "Aleksi",
    "Niko",
    "Anna",
    "Maria",
    "Päivi",
    "Tiina",
    "Sari",
    "Leena",
    "Anne",
    "Johanna",
    "Kaisa",
    "Minna",
    "Riikka",
    "Sanna",
    "Hanna",
    "Satu",
    "Laura",
    "Aino",
    "Eveliina",
    "Sofia",
    "Emilia",
    "Helmi",
    "Ella",
    "Oona",
    "Venla",
    "Siiri",
    "Iida",
    "Jenni",
    "Noora",
    "Katja",
    "Maija",
    "Liisa",
    "Erik",
    "Lars",
    "Karl",
    "Johan",
    "Anders",
    "Per",
    "Nils",
    "Björn",
    "Sven",
    "Gustav",
    "Åsa",
    "Kristina",
    "Ingrid",
    "Karin",
    "Birgitta",
    "Ulla",
    "Märta",
    "Astrid",
    "Linnéa",
    "Elsa",
    "Ebba",
    "Wilma",
    "Signe",
    "Göran",
    "Ulf",
    "Magnus",
    "Henrik",
    "Jörgen",
    "Stefan",
]
SURNAMES = [
    "Korhonen",
    "Virtanen",
    "Mäkinen",
    "Nieminen",
    "Mäkelä",
    "Hämäläinen",
    "Laine",
    "Heikkinen",
    "Koskinen",
    "Järvinen",
    "Lehtonen",
    "Lehtinen",
    "Saarinen",
    "Salminen",
    "Heinonen",
    "Niemi",
    "Heikkilä",
    "Kinnunen",
    "Salonen",
    "Turunen",
    "Salo",
    "Laitinen",
    "Tuominen",
    "Rantanen",
    "Karjalainen",
    "Jokinen",
    "Mattila",
    "Savolainen",
    "Lahtinen",
    "Ahonen",
    "Kärkkäinen",
    "Väisänen",
    "Pitkänen",
    "Hyvönen",
    "Räsänen",
    "Leinonen",
    "Miettinen",
    "Seppälä",
    "Ojala",
    "Aaltonen",
    "Johansson",
    "Andersson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Jansson",
    "Hansson",
    "Bengtsson",
    "Jönsson",
    "Lindberg",
    "Lindström",
    "Lindqvist",
    "Berg",
    "Lundgren",
    "Bergström",
    "Sjöberg",
    "Wikström",
    "Holmberg",
    "Åberg",
    "Nyström",
    "Söderberg",
    "Ekström",
    "Lönnqvist",
    "Grönroos",
    "Sundqvist",
    "Wallin",
    "Björklund",
    "Forsman",
    "Strömberg",
    "Westerlund",
    "Öhman",
    "Backman",
    "Blomqvist",
]
_FI_STEMS = [
    "Koivu",
    "Mäki",
    "Järvi",
    "Lahti",
    "Niemi",
    "Salo",
    "Vaara",
    "Harju",
    "Kallio",
    "Kangas",
    "Koski",
    "Lampi",
    "Laakso",
    "Rinne",
    "Metsä",
    "Pelto",
    "Ranta",
    "Saari",
    "Vuori",
    "Aho",
    "Halla",
    "Heino",
    "Hirvi",
    "Honka",
    "Ilves",
    "Karhu",
    "Kettu",
    "Kivi",
    "Kuusi",
    "Lehto",
    "Mänty",
    "Nurmi",
    "Paju",
    "Ruoho",
    "Tammi",
    "Tuuli",
    "Oja",
    "Kokko",
    "Kurki",
    "Sorsa",
    "Kaski",
    "Pohja",
    "Rauta",
]
_SV_HEADS = [
    "Berg",
    "Lind",
    "Holm",
    "Sjö",
    "Ek",
    "Ström",
    "Lund",
    "Nord",
    "Sund",
    "Wall",
    "Ahl",
    "Öst",
    "Blom",
    "Gran",
    "Ros",
    "Dahl",
    "Fors",
    "Hag",
]
_SV_TAILS = [
    "berg",
    "ström",
    "qvist",
    "lund",
    "gren",
    "holm",
    "man",
    "blad",
    "dahl",
    "bäck",
    "vall",
]


def _compound_surnames() -> tuple[str, ...]:
    """Finnish compounds (Koivumäki, Järvinen) and Swedish two-part names (Lindqvist).

    The real registers have tens of thousands of surnames; a pool of a few thousand
    keeps blocks of a synthetic 1M-record master realistically small.
    """
    fi = [a + b.lower() for a in _FI_STEMS for b in _FI_STEMS if a != b]
    fi += [a + "nen" for a in _FI_STEMS] + [a + "la" for a in _FI_STEMS]
    sv = [a + b for a in _SV_HEADS for b in _SV_TAILS if a.lower() != b]
    return tuple(dict.fromkeys([*SURNAMES, *fi, *sv]))


ALL_SURNAMES = _compound_surnames()

CITIES = [
    "Helsinki",
    "Espoo",
    "Tampere",
    "Vantaa",
    "Oulu",
    "Turku",
    "Jyväskylä",
    "Lahti",
    "Kuopio",
    "Pori",
    "Kouvola",
    "Joensuu",
    "Lappeenranta",
    "Hämeenlinna",
    "Vaasa",
    "Seinäjoki",
    "Rovaniemi",
    "Mikkeli",
    "Kotka",
    "Salo",
    "Porvoo",
    "Kokkola",
    "Hyvinkää",
    "Lohja",
    "Järvenpää",
    "Rauma",
    "Kajaani",
    "Kerava",
    "Savonlinna",
    "Nokia",
    "Ylöjärvi",
    "Kangasala",
    "Vihti",
    "Raseborg",
    "Kirkkonummi",
    "Pietarsaari",
    "Tornio",
    "Stockholm",
    "Göteborg",
    "Malmö",
    "Uppsala",
    "Umeå",
    "Västerås",
    "Örebro",
    "Linköping",
    "Helsingborg",
    "Jönköping",
    "Norrköping",
    "Lund",
    "Luleå",
    "Sundsvall",
    "Gävle",
]


@dataclass(frozen=True)
class Person:
    customer_number: str
    given_name: str
    surname: str
    email: str
    phone: str
    city: str
    postcode: str
    birth_date: str


def _ascii(text: str) -> str:
    return (
        text.replace("ä", "a")
        .replace("ö", "o")
        .replace("å", "a")
        .replace("Ä", "A")
        .replace("Ö", "O")
        .replace("Å", "A")
        .replace("é", "e")
    )


def customers(n: int, seed: int = 0) -> list[Person]:
    """``n`` distinct customers with Zipf-like name frequencies (as in real registers)."""
    rng = np.random.default_rng(seed)
    gw = 1.0 / np.arange(1, len(GIVEN) + 1) ** 0.7
    sw = 1.0 / np.arange(1, len(ALL_SURNAMES) + 1) ** 0.7
    cw = 1.0 / np.arange(1, len(CITIES) + 1) ** 1.0
    g = rng.choice(len(GIVEN), n, p=gw / gw.sum())
    s = rng.choice(len(ALL_SURNAMES), n, p=sw / sw.sum())
    c = rng.choice(len(CITIES), n, p=cw / cw.sum())
    years = rng.integers(1940, 2006, n)
    months = rng.integers(1, 13, n)
    days = rng.integers(1, 29, n)
    out = []
    for i in range(n):
        given, sur = GIVEN[g[i]], ALL_SURNAMES[s[i]]
        out.append(
            Person(
                customer_number=f"C{i + 1:07d}",
                given_name=given,
                surname=sur,
                email=f"{_ascii(given).lower()}.{_ascii(sur).lower()}{i}@example.fi",
                phone=f"+35840{i:07d}",
                city=CITIES[c[i]],
                postcode=f"{(c[i] * 10 + int(rng.integers(0, 10))) * 10:05d}",
                birth_date=f"{years[i]:04d}-{months[i]:02d}-{days[i]:02d}",
            )
        )
    return out


def _typo(word: str, rng: np.random.Generator) -> str:
    if len(word) < 4:
        return word
    i = int(rng.integers(1, len(word) - 1))
    op = int(rng.integers(0, 3))
    if op == 0:
        return word[:i] + word[i + 1 :]  # drop a letter (Matila)
    if op == 1:
        return word[:i] + word[i] + word[i:]  # double a letter
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # swap two


def social_profile(p: Person, rng: np.random.Generator, *, with_birth_date: bool = False) -> dict:
    """What the same person's social profile shows: a spelling of the name and a city."""
    given, sur = p.given_name, p.surname
    if rng.random() < 0.5:
        given, sur = _ascii(given), _ascii(sur)
    if rng.random() < 0.3:
        sur = _typo(sur, rng)
    profile = {"display_name": f"{given} {sur}", "city": p.city}
    if rng.random() < 0.5:
        profile["handle"] = p.email.split("@")[0]
    if with_birth_date:
        profile["birth_date"] = p.birth_date
    return profile


def stranger_profile(rng: np.random.Generator) -> dict:
    """A social author who is nobody's customer (most of them)."""
    given = GIVEN[int(rng.integers(0, len(GIVEN)))]
    return {
        "display_name": f"{given} {''.join(rng.choice(list('bdfgklmnprstv'), 3))}ala",
        "city": "Reykjavik",
        "handle": f"user{int(rng.integers(10**6, 10**7))}",
    }


def crm_duplicate(p: Person, number: str, rng: np.random.Generator) -> Person:
    """The same person entered again by another system: typos, ASCII names, gaps."""
    given, sur = p.given_name, p.surname
    if rng.random() < 0.4:
        given, sur = _ascii(given), _ascii(sur)
    if rng.random() < 0.3:
        sur = _typo(sur, rng)
    if rng.random() < 0.2:
        given = _typo(given, rng)
    birth = p.birth_date
    if rng.random() < 0.15:
        birth = birth[:-1] + str((int(birth[-1]) + 1) % 10)
    return Person(
        customer_number=number,
        given_name=given,
        surname=sur,
        email=p.email if rng.random() < 0.5 else "",
        phone=p.phone if rng.random() < 0.5 else "",
        city=p.city if rng.random() < 0.85 else CITIES[int(rng.integers(0, len(CITIES)))],
        postcode=p.postcode if rng.random() < 0.8 else "",
        birth_date=birth if rng.random() < 0.9 else "",
    )


def base_with_duplicates(
    n: int, dup_rate: float = 0.2, seed: int = 0
) -> tuple[list[Person], list[tuple[str, str]]]:
    """``n`` people plus ``dup_rate * n`` duplicates; returns records and the true pairs."""
    rng = np.random.default_rng(seed + 1)
    people = customers(n, seed)
    dups, pairs = [], []
    for k, i in enumerate(rng.choice(n, int(n * dup_rate), replace=False)):
        number = f"D{k + 1:07d}"
        dups.append(crm_duplicate(people[int(i)], number, rng))
        pairs.append((people[int(i)].customer_number, number))
    return people + dups, pairs
