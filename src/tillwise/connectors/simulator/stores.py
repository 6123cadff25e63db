"""Each country of the data set becomes one simulated store (a ``location.updated``).

Online Retail II is one UK retailer's transactions tagged with the *customer's* country. The
simulator turns each country into a store in that country, so the demo has several locations
in several time zones. The mapping (country as written in the data → ISO 3166-1 alpha-2,
IANA time zone) covers every country that appears in either year of the data set:

=====================  ====  ====================  ==========================================
country in the data    ISO   IANA time zone        note
=====================  ====  ====================  ==========================================
Australia              AU    Australia/Sydney      largest city
Austria                AT    Europe/Vienna
Bahrain                BH    Asia/Bahrain
Belgium                BE    Europe/Brussels
Bermuda                BM    Atlantic/Bermuda
Brazil                 BR    America/Sao_Paulo     largest city
Canada                 CA    America/Toronto       largest city
Channel Islands        JE    Europe/Jersey         Jersey stands for both bailiwicks
Cyprus                 CY    Asia/Nicosia
Czech Republic         CZ    Europe/Prague
Denmark                DK    Europe/Copenhagen
EIRE                   IE    Europe/Dublin
European Community     —     Europe/Brussels       no ISO country; EU institutions' seat
Finland                FI    Europe/Helsinki
France                 FR    Europe/Paris
Germany                DE    Europe/Berlin
Greece                 GR    Europe/Athens
Hong Kong              HK    Asia/Hong_Kong
Iceland                IS    Atlantic/Reykjavik
Israel                 IL    Asia/Jerusalem
Italy                  IT    Europe/Rome
Japan                  JP    Asia/Tokyo
Korea                  KR    Asia/Seoul            Republic of Korea assumed
Lebanon                LB    Asia/Beirut
Lithuania              LT    Europe/Vilnius
Malta                  MT    Europe/Malta
Netherlands            NL    Europe/Amsterdam
Nigeria                NG    Africa/Lagos
Norway                 NO    Europe/Oslo
Poland                 PL    Europe/Warsaw
Portugal               PT    Europe/Lisbon         mainland
RSA                    ZA    Africa/Johannesburg
Saudi Arabia           SA    Asia/Riyadh
Singapore              SG    Asia/Singapore
Spain                  ES    Europe/Madrid         mainland
Sweden                 SE    Europe/Stockholm
Switzerland            CH    Europe/Zurich
Thailand               TH    Asia/Bangkok
USA                    US    America/New_York      largest city
United Arab Emirates   AE    Asia/Dubai
United Kingdom         GB    Europe/London
Unspecified            —     Europe/London         the retailer's own zone
West Indies            —     America/Port_of_Spain  no single ISO country
=====================  ====  ====================  ==========================================

A country not in the table gets ``UTC`` and no country code (and the test suite checks that
every country in the bundled subset is in the table).

**Currency:** the data set's prices are in pounds sterling whatever the customer's country,
so every store's currency is ``GBP`` — amounts are not converted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CURRENCY = "GBP"

# country as written in the data → (ISO 3166-1 alpha-2 or None, IANA time zone)
COUNTRIES: dict[str, tuple[str | None, str]] = {
    "Australia": ("AU", "Australia/Sydney"),
    "Austria": ("AT", "Europe/Vienna"),
    "Bahrain": ("BH", "Asia/Bahrain"),
    "Belgium": ("BE", "Europe/Brussels"),
    "Bermuda": ("BM", "Atlantic/Bermuda"),
    "Brazil": ("BR", "America/Sao_Paulo"),
    "Canada": ("CA", "America/Toronto"),
    "Channel Islands": ("JE", "Europe/Jersey"),
    "Cyprus": ("CY", "Asia/Nicosia"),
    "Czech Republic": ("CZ", "Europe/Prague"),
    "Denmark": ("DK", "Europe/Copenhagen"),
    "EIRE": ("IE", "Europe/Dublin"),
    "European Community": (None, "Europe/Brussels"),
    "Finland": ("FI", "Europe/Helsinki"),
    "France": ("FR", "Europe/Paris"),
    "Germany": ("DE", "Europe/Berlin"),
    "Greece": ("GR", "Europe/Athens"),
    "Hong Kong": ("HK", "Asia/Hong_Kong"),
    "Iceland": ("IS", "Atlantic/Reykjavik"),
    "Israel": ("IL", "Asia/Jerusalem"),
    "Italy": ("IT", "Europe/Rome"),
    "Japan": ("JP", "Asia/Tokyo"),
    "Korea": ("KR", "Asia/Seoul"),
    "Lebanon": ("LB", "Asia/Beirut"),
    "Lithuania": ("LT", "Europe/Vilnius"),
    "Malta": ("MT", "Europe/Malta"),
    "Netherlands": ("NL", "Europe/Amsterdam"),
    "Nigeria": ("NG", "Africa/Lagos"),
    "Norway": ("NO", "Europe/Oslo"),
    "Poland": ("PL", "Europe/Warsaw"),
    "Portugal": ("PT", "Europe/Lisbon"),
    "RSA": ("ZA", "Africa/Johannesburg"),
    "Saudi Arabia": ("SA", "Asia/Riyadh"),
    "Singapore": ("SG", "Asia/Singapore"),
    "Spain": ("ES", "Europe/Madrid"),
    "Sweden": ("SE", "Europe/Stockholm"),
    "Switzerland": ("CH", "Europe/Zurich"),
    "Thailand": ("TH", "Asia/Bangkok"),
    "USA": ("US", "America/New_York"),
    "United Arab Emirates": ("AE", "Asia/Dubai"),
    "United Kingdom": ("GB", "Europe/London"),
    "Unspecified": (None, "Europe/London"),
    "West Indies": (None, "America/Port_of_Spain"),
}


@dataclass(frozen=True)
class Store:
    id: str  # the generic location_id, e.g. "store-united-kingdom"
    name: str
    country: str  # as written in the data
    country_code: str | None
    time_zone: str
    currency: str = CURRENCY

    def payload(self) -> dict[str, object]:
        """The ``data`` of this store's ``location.updated``."""
        return {
            "id": self.id,
            "name": self.name,
            "time_zone": self.time_zone,
            "country_code": self.country_code,
            "currency": self.currency,
        }


def store_id(country: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", country.lower()).strip("-")
    return f"store-{slug or 'unknown'}"


def store_for(country: str) -> Store:
    code, zone = COUNTRIES.get(country, (None, "UTC"))
    return Store(
        id=store_id(country),
        name=f"Online Retail — {country}",
        country=country,
        country_code=code,
        time_zone=zone,
    )
