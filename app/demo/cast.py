"""Who plays in the demo: twelve départements of different sizes (mainland, Corsica, outre-mer),
their prefects and envelopes' weights, and candidates of every eligible kind (R-ELIG-1).

Communes and EPCI come from the bundled reference data (R-REF-1: the SIRET suffices); a
département and a région are known by their COG code (SIREN as declared); a syndicat, a public
body and a collectivité d'outre-mer declare their name. Their prefect verifies every identity
the reference cannot confirm (R-REF-2), but for one syndicat of the 13 that is left `to_verify`
for the prefect to decide.
"""

from __future__ import annotations

from dataclasses import dataclass

from stdnum import luhn

STATE_SIREN = "130025265"  # the State: the prefectures' establishments


@dataclass(frozen=True)
class Who:
    role: str
    sub: str
    departement: str | None = None
    siren: str | None = None


@dataclass(frozen=True)
class Organisation:
    key: str
    siren: str
    kind: str
    departement: str
    population: int | None = None  # what the reference says (communes), for the forfaits
    name: str | None = None  # declared: what the reference does not know
    region: str | None = None  # a région's COG code
    verify: bool = True  # declared identities: the prefect verifies them (R-REF-2)

    @property
    def agent(self) -> Who:
        return Who("candidate", f"demo-agent-{self.key}", siren=self.siren)

    @property
    def declared(self) -> bool:
        """Its name is declared (the reference does not know it)."""
        return self.kind in ("syndicat", "public_body", "collectivite_outre_mer")

    @property
    def to_verify(self) -> bool:
        """R-REF-2: the reference confirms communes and EPCI only; the prefect verifies others."""
        return self.kind not in ("commune", "epci")


def siret_of(siren: str, establishment: str = "0001") -> str:
    """A valid SIRET for this SIREN (NIC = establishment number + Luhn key)."""
    body = siren + establishment
    return body + str(luhn.calc_check_digit(body))


def _siren_with_key(prefix: str) -> str:
    return prefix + str(luhn.calc_check_digit(prefix))


@dataclass(frozen=True)
class Departement:
    code: str
    prefecture: str
    weight: int  # dossiers filed per month, roughly (scaled by the loader's size)
    committee_day: int  # its committee meets that day of the month


DEPARTEMENTS_CAST = (
    Departement("13", "Préfecture des Bouches-du-Rhône", 4, 10),
    Departement("33", "Préfecture de la Gironde", 4, 12),
    Departement("75", "Préfecture de la région d'Île-de-France, préfecture de Paris", 3, 14),
    Departement("69", "Préfecture du Rhône", 3, 16),
    Departement("59", "Préfecture du Nord", 3, 18),
    Departement("23", "Préfecture de la Creuse", 1, 20),
    Departement("48", "Préfecture de la Lozère", 1, 20),
    Departement("2A", "Préfecture de la Corse-du-Sud", 1, 21),
    Departement("2B", "Préfecture de la Haute-Corse", 1, 21),
    Departement("971", "Préfecture de la Guadeloupe", 1, 22),
    Departement("974", "Préfecture de La Réunion", 2, 22),
    Departement("978", "Préfecture de Saint-Barthélemy et de Saint-Martin", 1, 23),
)
DEPARTEMENTS = tuple(d.code for d in DEPARTEMENTS_CAST)
BY_CODE = {d.code: d for d in DEPARTEMENTS_CAST}
DINUM = Who("dinum", "demo-dinum")
ANCT = Who("anct", "demo-anct")
PREFECTS = {dep: Who("prefect", f"demo-prefet-{dep}", departement=dep) for dep in DEPARTEMENTS}


def _c(key: str, siren: str, dep: str, population: int) -> Organisation:
    return Organisation(key, siren, "commune", dep, population)


def _e(key: str, siren: str, dep: str) -> Organisation:
    return Organisation(key, siren, "epci", dep)


SYNDICAT = Organisation(
    "syndicat-13",
    _siren_with_key("25130001"),
    "syndicat",
    "13",
    name="Syndicat mixte numérique de Provence",
    verify=False,
)
# The candidates that file dossiers, per département: large and small communes, EPCI, and the
# other kinds once or twice.
ORGANISATIONS = [
    _c("aix", "211300017", "13", 149_695),
    _c("alleins", "211300033", "13", 2_852),
    _e("terre-de-provence", "200035087", "13"),
    Organisation("cd13", _siren_with_key("22130001"), "departement", "13"),
    Organisation("region-sud", _siren_with_key("23130002"), "region", "13", region="93"),
    _c("bordeaux", "213300635", "33", 267_991),
    _c("merignac", "213302813", "33", 78_090),
    _c("sauternes", "213305048", "33", 788),
    _e("bordeaux-metropole", "243300316", "33"),
    _c("paris", "217500016", "75", 2_103_778),
    Organisation(
        "paris-numerique",
        _siren_with_key("26750001"),
        "public_body",
        "75",
        name="Agence parisienne des services numériques (démonstration)",
    ),
    _c("lyon", "216901231", "69", 519_127),
    _c("villeurbanne", "216902668", "69", 163_684),
    _c("saint-romain", "216902346", "69", 1_725),
    _e("metropole-lyon", "200046977", "69"),
    _c("lille", "215903501", "59", 238_246),
    _c("aix-en-pevele", "215900044", "59", 1_338),
    _e("mel", "200093201", "59"),
    _c("gueret", "212309603", "23", 12_955),
    _c("ars", "212300701", "23", 239),
    _e("grand-gueret", "200034825", "23"),
    _c("mende", "214800955", "48", 12_464),
    _c("pied-de-borne", "214800153", "48", 208),
    _c("ajaccio", "212000046", "2A", 76_320),
    _c("zicavo", "212003594", "2A", 203),
    _e("pays-ajaccien", "242010056", "2A"),
    _c("bastia", "212000335", "2B", 46_867),
    _c("borgo", "212000426", "2B", 10_311),
    _c("les-abymes", "219711017", "971", 51_055),
    _c("terre-de-bas", "219711306", "971", 873),
    _e("cap-excellence", "200018653", "971"),
    _c("saint-denis", "219740115", "974", 155_634),
    _c("cilaos", "219740248", "974", 5_040),
    _e("tco", "249740101", "974"),
    Organisation("cd974", _siren_with_key("22740001"), "departement", "974"),
    Organisation(
        "saint-martin",
        _siren_with_key("21978001"),
        "collectivite_outre_mer",
        "978",
        name="Collectivité de Saint-Martin",
    ),
]
MEMBERS = [
    {"name": "M. le Préfet", "role": "Préfet"},
    {"name": "Mme la Sous-préfète", "role": "Sous-préfète à la relance"},
]
