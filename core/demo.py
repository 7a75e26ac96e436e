"""Demo data for a local first start (`manage.py seed_demo`).

Customers in several countries, a catalog with SKUs and collections, a few thousand orders with
their items, custom events, customers' order aggregates consistent with the orders, a superuser
and an API key. Everything is written with multi-row inserts in batches inside one transaction,
from a seeded random generator, so the same seed gives the same data (relative to "now").

Demo rows are recognised by their source_id prefix (`demo-`), demo product collections (which have
no source_id) by their name prefix (`Demo: `). A second run finds them and skips the data; `reset`
deletes them first.

Then the demo campaigns (seed_demo_campaigns): each app's `demo` module (DEMO_CAMPAIGN_MODULES: segments,
promo, giftcards) makes its part through its own services, so codes, rules, counters, ledgers and redemption
history are what the API would have made. They are recognised by `metadata.demo` (campaigns, BLACKFRIDAY),
the "Demo: " prefix (validation rules) and their names (segments); a second run skips them, `reset` removes
them through the services first (campaigns are soft-deleted with their names freed; gift card ledgers stay).
"""

import random
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, Max, Min, OuterRef, Q, Subquery, Sum
from django.db.models.deletion import ProtectedError
from django.utils import timezone

from catalog.models import Product, ProductCollection, ProductCollectionItem, Sku
from core import services
from core.models import ApiKey, AsyncAction
from customers.models import Customer, CustomEvent, Order, OrderItem

DEMO_PREFIX = "demo-"
COLLECTION_PREFIX = "Demo: "
DEMO_KEY_NAME = "demo"
BATCH_SIZE = 500

DAY = 86400


class DemoDataError(Exception):
    """The demo data cannot be reset (other rows still refer to it)."""


# ---------------------------------------------------------------- reference data

@dataclass(frozen=True)
class City:
    country: str
    name: str
    state: str
    language: str
    weight: int
    postal_code: object  # Callable[[random.Random], str]
    phone: object  # Callable[[random.Random], str]
    streets: tuple[str, ...]
    street_first: bool = False  # "Długa 12" rather than "12 Main St"


def _digits(rng: random.Random, count: int, *, lead: bool = False) -> str:
    """`count` random digits; with `lead` the first is not 0 (the start of a subscriber number)."""
    first = rng.choice("123456789") if lead else rng.choice("0123456789")
    return first + "".join(rng.choice("0123456789") for _ in range(count - 1))


def _uk_inward(rng: random.Random) -> str:
    return f"{rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"


_US_STREETS = ("Main St", "Oak Ave", "Maple St", "Park Ave", "Broadway", "Elm St", "Cedar Ln", "Washington Ave")
_GB_STREETS = ("High Street", "Station Road", "Church Lane", "Victoria Road", "Oxford Road", "King Street")
_PL_STREETS = ("ul. Długa", "ul. Polna", "ul. Mickiewicza", "ul. Słowackiego", "ul. Lipowa", "ul. Ogrodowa")
_PT_STREETS = ("Rua Augusta", "Rua das Flores", "Avenida da Liberdade", "Rua de Santa Catarina", "Rua do Carmo")
_DE_STREETS = ("Hauptstraße", "Bahnhofstraße", "Schillerstraße", "Goethestraße", "Kastanienallee", "Lindenweg")

CITIES: tuple[City, ...] = (
    City("US", "New York", "NY", "en", 14, lambda r: f"100{r.randint(1, 99):02d}",
         lambda r: f"+1 212-555-01{_digits(r, 2)}", _US_STREETS),
    City("US", "Chicago", "IL", "en", 9, lambda r: f"606{r.randint(1, 61):02d}",
         lambda r: f"+1 312-555-01{_digits(r, 2)}", _US_STREETS),
    City("US", "Austin", "TX", "en", 7, lambda r: f"787{r.randint(1, 59):02d}",
         lambda r: f"+1 512-555-01{_digits(r, 2)}", _US_STREETS),
    City("GB", "London", "England", "en", 12,
         lambda r: f"{r.choice(['SW1A', 'EC1A', 'W1D', 'N1', 'SE1', 'E14', 'NW3', 'WC2H'])} {_uk_inward(r)}",
         lambda r: f"+44 20 7946 0{_digits(r, 3)}", _GB_STREETS),
    City("GB", "Manchester", "England", "en", 8, lambda r: f"M{r.randint(1, 40)} {_uk_inward(r)}",
         lambda r: f"+44 161 496 0{_digits(r, 3)}", _GB_STREETS),
    City("PL", "Warsaw", "mazowieckie", "pl", 12, lambda r: f"0{r.randint(0, 4)}-{r.randint(1, 999):03d}",
         lambda r: f"+48 22 {_digits(r, 3, lead=True)} {_digits(r, 2)} {_digits(r, 2)}", _PL_STREETS, True),
    City("PL", "Kraków", "małopolskie", "pl", 8, lambda r: f"{r.choice([30, 31])}-{r.randint(1, 999):03d}",
         lambda r: f"+48 12 {_digits(r, 3, lead=True)} {_digits(r, 2)} {_digits(r, 2)}", _PL_STREETS, True),
    City("PT", "Porto", "Porto", "pt", 6, lambda r: f"4{r.randint(0, 4)}00-{r.randint(1, 999):03d}",
         lambda r: f"+351 22 {_digits(r, 3, lead=True)} {_digits(r, 4)}", _PT_STREETS, True),
    City("PT", "Lisbon", "Lisboa", "pt", 6, lambda r: f"1{r.randint(0, 9)}00-{r.randint(1, 999):03d}",
         lambda r: f"+351 21 {_digits(r, 3, lead=True)} {_digits(r, 4)}", _PT_STREETS, True),
    City("DE", "Berlin", "Berlin", "de", 10, lambda r: f"1{r.randint(0, 4)}{r.randint(0, 999):03d}",
         lambda r: f"+49 30 {_digits(r, 8, lead=True)}", _DE_STREETS, True),
    City("DE", "Munich", "Bayern", "de", 8, lambda r: f"8{r.randint(0, 1)}{r.randint(0, 999):03d}",
         lambda r: f"+49 89 {_digits(r, 8, lead=True)}", _DE_STREETS, True),
)

NAMES = {
    "US": (("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Emily",
            "William", "Ashley", "Daniel", "Olivia", "Kevin", "Sarah"),
           ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
            "Wilson", "Anderson", "Taylor", "Moore", "Jackson", "Lee")),
    "GB": (("Oliver", "George", "Harry", "Jack", "Amelia", "Isla", "Ava", "Charlotte", "Sophie", "Thomas",
            "Freya", "Poppy", "Alfie", "Emily"),
           ("Smith", "Jones", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thompson", "Robinson", "Wright",
            "Walker", "Roberts", "Green", "Hall")),
    "PL": (("Anna", "Maria", "Katarzyna", "Małgorzata", "Agnieszka", "Zofia", "Ewa", "Piotr", "Krzysztof",
            "Tomasz", "Paweł", "Michał", "Łukasz", "Jakub", "Kamil", "Marcin"),
           ("Nowak", "Wójcik", "Kowalczyk", "Mazur", "Krawczyk", "Zając", "Król", "Wieczorek", "Wróbel", "Dudek",
            "Pawlak", "Walczak", "Sikora", "Baran", "Szewczyk", "Marciniak")),
    "PT": (("João", "Maria", "Ana", "Francisco", "Beatriz", "Rodrigo", "Inês", "Tiago", "Mariana", "Duarte",
            "Leonor", "Gonçalo", "Matilde", "Afonso"),
           ("Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins", "Sousa",
            "Fernandes", "Gonçalves", "Gomes", "Lopes", "Almeida")),
    "DE": (("Lukas", "Leon", "Finn", "Paul", "Jonas", "Lena", "Hannah", "Mia", "Emma", "Sophie", "Felix",
            "Maximilian", "Laura", "Julia"),
           ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
            "Schäfer", "Koch", "Bauer", "Richter")),
}

EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
INDUSTRIES = ("pharma", "retail", "finance", "tech", "education", "hospitality", "manufacturing", "logistics")

BRANDS = ("Acme", "Northwind", "Contoso", "Fabrikam", "Tailspin", "Lumen", "Vertex", "Orbit")
SERIES = ("Classic", "Pro", "Eco", "Sport", "Urban", "Limited")
COLORS = ("black", "white", "navy", "red", "green", "grey")


@dataclass(frozen=True)
class Family:
    name: str
    nouns: tuple[str, ...]
    price: tuple[int, int]  # whole currency units, prices end in .99
    attributes: dict = field(default_factory=dict)


FAMILIES: tuple[Family, ...] = (
    Family("shoes", ("Running Shoe", "Trail Shoe", "Sneaker", "Hiking Boot"), (49, 159),
           {"color": COLORS[:4], "size": ("40", "41", "42", "43", "44")}),
    Family("t-shirts", ("T-Shirt", "Polo", "Tank Top"), (14, 39),
           {"color": COLORS, "size": ("S", "M", "L", "XL")}),
    Family("jackets", ("Rain Jacket", "Down Jacket", "Softshell"), (79, 299),
           {"color": COLORS[:3], "size": ("S", "M", "L", "XL")}),
    Family("bags", ("Backpack", "Tote", "Duffel"), (29, 129), {"color": COLORS[:4]}),
    Family("headphones", ("Wireless Headphones", "Earbuds", "Studio Monitor"), (39, 349), {"color": COLORS[:2]}),
    Family("watches", ("Smartwatch", "Field Watch", "Diver"), (99, 499)),
    Family("coffee", ("Espresso Beans", "Filter Roast", "Decaf Blend"), (8, 24), {"weight": ("250g", "1kg")}),
    Family("kitchen", ("Chef's Knife", "Frying Pan", "Kettle", "Grinder"), (19, 149)),
)

ORDER_STATUSES = (Order.Status.PAID, Order.Status.FULFILLED, Order.Status.CREATED, Order.Status.CANCELED)
ORDER_STATUS_WEIGHTS = (45, 40, 8, 7)
EVENT_NAMES = ("product_viewed", "app_opened", "review_left", "newsletter_subscribed")
EVENT_WEIGHTS = (50, 30, 10, 10)


def _ascii(text: str) -> str:
    text = text.replace("ł", "l").replace("Ł", "L").replace("ß", "ss")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


def _price(rng: random.Random, low: int, high: int) -> int:
    return rng.randint(low, high) * 100 + 99  # minor units, e.g. 7999


def _birthdate(rng: random.Random, today: date) -> date | None:
    roll = rng.random()
    if roll < 0.08:
        return None
    if roll < 0.11:  # born today: the birthday features have someone to celebrate
        years = [y for y in range(1960, 2005) if not (today.month == 2 and today.day == 29) or y % 4 == 0]
        return today.replace(year=rng.choice(years))
    return date(rng.randint(1955, 2006), 1, 1) + timedelta(days=rng.randint(0, 364))


# ---------------------------------------------------------------- the service

def demo_data_counts() -> dict:
    """How many demo rows exist now."""
    demo = {"source_id__startswith": DEMO_PREFIX}
    return {
        "customers": Customer.objects.filter(**demo).count(),
        "products": Product.objects.filter(**demo).count(),
        "skus": Sku.objects.filter(**demo).count(),
        "collections": ProductCollection.objects.filter(name__startswith=COLLECTION_PREFIX).count(),
        "orders": Order.objects.filter(**demo).count(),
        "order_items": OrderItem.objects.filter(order__source_id__startswith=DEMO_PREFIX).count(),
        "events": CustomEvent.objects.filter(customer__source_id__startswith=DEMO_PREFIX).count(),
    }


def demo_data_delete() -> dict:
    """Delete the demo rows (and the orders and events of demo customers). Returns the counts deleted."""
    before = demo_data_counts()
    demo_customer = Q(customer__source_id__startswith=DEMO_PREFIX)
    orders = Order.objects.filter(
        Q(source_id__startswith=DEMO_PREFIX) | demo_customer
        | Q(counted_customer__source_id__startswith=DEMO_PREFIX) | Q(referrer__source_id__startswith=DEMO_PREFIX)
    )
    try:
        with transaction.atomic():
            OrderItem.objects.filter(order__in=orders).delete()
            orders.delete()
            CustomEvent.objects.filter(demo_customer).delete()
            Customer.objects.filter(source_id__startswith=DEMO_PREFIX).delete()
            ProductCollection.objects.filter(name__startswith=COLLECTION_PREFIX).delete()
            Product.objects.filter(source_id__startswith=DEMO_PREFIX).delete()
    except ProtectedError as exc:
        kinds = sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects})
        raise DemoDataError(f"Other records still refer to the demo data ({', '.join(kinds)}); "
                            "delete them first.") from exc
    return before


def seed_demo(*, customers: int = 1000, products: int = 100, orders: int = 3000, events: int = 2000,
              seed: int = 42, reset: bool = False, now: datetime | None = None, campaigns: bool = True,
              redemptions: int = 250) -> dict:
    """Create the demo data set unless demo rows exist already. Returns a summary:
    {"skipped": bool, "deleted": {...} | None, "customers": n, "products": n, "skus": n, "collections": n,
     "orders": n, "order_items": n, "events": n, "campaigns": {...} | None, "seconds": float}. When skipped the
    counts are those present.

    With `campaigns`, the demo campaigns, segments, gift cards and redemptions follow (see DEMO_CAMPAIGN_MODULES),
    made through each app's services after the data above is committed, unless they exist already."""
    for name, value in (("customers", customers), ("products", products), ("orders", orders), ("events", events),
                        ("redemptions", redemptions)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0")
    if orders and (not customers or not products):
        raise ValueError("orders need at least one customer and one product")
    started = time.monotonic()
    deleted = demo_campaigns_delete() if reset and campaigns else None
    with transaction.atomic():  # a failed run leaves the previous demo data in place
        base_deleted = demo_data_delete() if reset else None
        if base_deleted is not None:
            deleted = {**base_deleted, **(deleted or {})}
        existing = demo_data_counts()
        skipped = any(existing.values())
        if skipped:
            counts = existing
        else:
            builder = _Builder(rng=random.Random(seed), now=now or timezone.now())
            counts = builder.run(customers=customers, products=products, orders=orders, events=events)
    campaign_summary = seed_demo_campaigns(seed=seed, now=now, redemptions=redemptions) if campaigns else None
    return {"skipped": skipped, "deleted": deleted, **counts, "campaigns": campaign_summary,
            "seconds": round(time.monotonic() - started, 2)}


# ---------------------------------------------------------------- demo campaigns (each app's demo module)

# Modules with `present() -> bool`, `seed(ctx) -> dict`, `counts() -> dict` and `delete() -> dict`, run in this
# order (segments before the rules that may name them; coupons and promotions before the redemptions). Each
# writes only through its app's services; an app that is not installed is left out.
DEMO_CAMPAIGN_MODULES = ("segments.demo", "promo.demo", "giftcards.demo")


@dataclass
class DemoContext:
    """What the apps' demo modules share: the seeded generator, the demo customers and catalog, and what
    earlier modules made (`made`, e.g. the campaigns for the redemptions)."""

    rng: random.Random
    now: datetime
    customers: list
    products: list
    skus_by_product: dict
    redemptions: int
    made: dict = field(default_factory=dict)


def _campaign_modules() -> list:
    from django.apps import apps
    from django.utils.module_loading import import_module

    return [import_module(path) for path in DEMO_CAMPAIGN_MODULES if apps.is_installed(path.split(".")[0])]


def demo_campaigns_counts() -> dict:
    counts: dict = {}
    for module in _campaign_modules():
        counts.update(module.counts())
    return counts


def demo_campaigns_delete() -> dict:
    """Remove the demo campaigns, segments and their history through the apps' services (campaigns are
    soft-deleted with their names freed; gift card ledgers are kept, as always). Returns what was there."""
    before = demo_campaigns_counts()
    for module in reversed(_campaign_modules()):
        module.delete()
    return before


def run_pending_action(action_type: str, **payload) -> None:
    """Run now the queued async action of this type whose payload has these values (code generation, a
    segment recompute). Without a broker it has run already on commit; with one a worker may have it: the
    action is claimed atomically, so it runs once either way. Inside a test's transaction on_commit never
    fires, so this is what runs it there."""
    actions = AsyncAction.objects.filter(type=action_type, status__in=[AsyncAction.Status.ENQUEUED,
                                                                       AsyncAction.Status.IN_PROGRESS])
    for action in actions.order_by("pk"):
        if all(action.payload.get(key) == value for key, value in payload.items()):
            services.async_action_run(action.pk)


def seed_demo_campaigns(*, seed: int = 42, now: datetime | None = None, redemptions: int = 250) -> dict:
    """The demo campaigns on top of the demo customers and catalog, unless they exist. Not one transaction:
    the services commit as they go (codes are generated and segments computed after their commit), so a
    failed run is cleaned up with `seed_demo --reset`."""
    started = time.monotonic()
    modules = _campaign_modules()
    customers = list(Customer.objects.filter(source_id__startswith=DEMO_PREFIX, deleted_at__isnull=True)
                     .order_by("source_id"))
    products = list(Product.objects.filter(source_id__startswith=DEMO_PREFIX).order_by("source_id"))
    if any(module.present() for module in modules) or not customers or not products:
        return {"skipped": True, **demo_campaigns_counts(), "seconds": round(time.monotonic() - started, 2)}
    skus_by_product: dict = {}
    for sku in Sku.objects.filter(product__in=products).order_by("source_id"):
        skus_by_product.setdefault(sku.product_id, []).append(sku)
    ctx = DemoContext(rng=random.Random(seed), now=now or timezone.now(), customers=customers, products=products,
                      skus_by_product=skus_by_product, redemptions=redemptions)
    for module in modules:
        module.seed(ctx)
    return {"skipped": False, **demo_campaigns_counts(), "seconds": round(time.monotonic() - started, 2)}


DEMO_ROLE_USERS = (  # (username, role group): each may log in to the back office with its role
    ("marketer", "Marketer"), ("junior", "Junior Marketer"), ("support", "Customer Service"),
    ("analyst", "Analyst"), ("partner", "Partner"),
)


def ensure_demo_role_users(*, password: str = "demo") -> list[tuple[str, str, str | None]]:
    """A staff user per back-office role (backoffice.roles: the groups `migrate` creates), all with `password`.
    Returns (username, role, password) per user, password None when the user existed (left unchanged)."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    user_model = get_user_model()
    out = []
    encoded = None  # one hash for the shared demo password: each takes about a second of CPU on a small machine
    for username, role in DEMO_ROLE_USERS:
        group = Group.objects.filter(name=role).first()
        if group is None:
            continue
        if user_model.objects.filter(username=username).exists():
            out.append((username, role, None))
            continue
        encoded = encoded or make_password(password)
        user = user_model.objects.create_user(username=username, email=f"{username}@example.com", is_staff=True,
                                              first_name=role)
        user.password = encoded
        user.save(update_fields=["password"])
        user.groups.add(group)
        out.append((username, role, password))
    return out


def ensure_demo_superuser(*, password: str, username: str = "admin", email: str = "admin@example.com") -> bool:
    """Create the superuser unless a user with that name exists. True when created."""
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        return False
    user_model.objects.create_superuser(username=username, email=email, password=password)
    return True


def ensure_demo_api_key(*, new: bool = False) -> tuple[services.IssuedApiKey | None, ApiKey | None]:
    """(issued, None) when a key was created; (None, existing) when an active demo key exists
    (its token cannot be shown again) and `new` is false."""
    existing = ApiKey.objects.filter(name=DEMO_KEY_NAME, revoked_at__isnull=True).order_by("-created_at").first()
    if existing is not None and not new:
        return None, existing
    return services.api_key_create(name=DEMO_KEY_NAME), None


# ---------------------------------------------------------------- generation

def _bulk_create(model, objs: list, stamps: list[datetime] | None = None, *, updated: list | None = None) -> list:
    """Multi-row inserts in batches, then the real created_at/updated_at, which auto_now_add/auto_now
    overwrite on insert."""
    model.objects.bulk_create(objs, batch_size=BATCH_SIZE)
    if stamps is None:
        return objs
    columns = {"created_at": stamps}
    if updated is not None:
        columns["updated_at"] = updated
    for name, values in columns.items():
        for obj, value in zip(objs, values, strict=True):
            setattr(obj, name, value)
    _bulk_set(model, objs, list(columns))
    return objs


def _bulk_set(model, objs: list, names: list[str]) -> None:
    """Write these fields of many rows by primary key: one prepared UPDATE run over all rows (executemany,
    pipelined by psycopg). Like bulk_update without its per-row CASE expressions, which took most of
    the run time; like bulk_update it runs no pre_save, so auto_now fields keep the values given."""
    meta, quote = model._meta, connection.ops.quote_name
    fields = [meta.get_field(name) for name in names]
    sql = "UPDATE {} SET {} WHERE {} = %s".format(
        quote(meta.db_table), ", ".join(f"{quote(f.column)} = %s" for f in fields), quote(meta.pk.column))
    params = [[*(f.get_db_prep_value(getattr(obj, f.attname), connection) for f in fields), obj.pk] for obj in objs]
    with connection.cursor() as cursor:
        for start in range(0, len(params), BATCH_SIZE * 4):
            cursor.executemany(sql, params[start:start + BATCH_SIZE * 4])


class _Builder:
    def __init__(self, *, rng: random.Random, now: datetime):
        self.rng = rng
        self.now = now
        self.today = timezone.localdate(now)

    def ago(self, seconds: float) -> datetime:
        return self.now - timedelta(seconds=int(seconds))

    def run(self, *, customers: int, products: int, orders: int, events: int) -> dict:
        customer_rows = self.customers(customers)
        product_rows, skus = self.products(products)
        collections, collection_items = self.collections(product_rows)
        order_rows, items = self.orders(orders, customer_rows, product_rows)
        self.aggregates()
        event_rows = self.events(events, customer_rows, product_rows)
        return {"customers": len(customer_rows), "products": len(product_rows), "skus": len(skus),
                "collections": len(collections), "collection_items": collection_items,
                "orders": len(order_rows), "order_items": items, "events": event_rows}

    # -- customers

    def customers(self, count: int) -> list[Customer]:
        rng = self.rng
        cities, weights = CITIES, [c.weight for c in CITIES]
        rows, stamps = [], []
        for i in range(1, count + 1):
            city = rng.choices(cities, weights)[0]
            firsts, lasts = NAMES[city.country]
            first, last = rng.choice(firsts), rng.choice(lasts)
            street, number = rng.choice(city.streets), rng.randint(1, 240)
            line_1 = f"{street} {number}" if city.street_first else f"{number} {street}"
            if city.country == "PL" and rng.random() < 0.5:
                line_1 += f"/{rng.randint(1, 60)}"
            rows.append(Customer(
                source_id=f"{DEMO_PREFIX}cust-{i:05d}",
                name=f"{first} {last}",
                email=f"{_ascii(first)}.{_ascii(last)}{i}@{rng.choice(EMAIL_DOMAINS)}",
                phone=city.phone(rng),
                birthdate=_birthdate(rng, self.today),
                address_line_1=line_1,
                address_city=city.name,
                address_state=city.state,
                address_country=city.country,
                address_postal_code=city.postal_code(rng),
                metadata={"industry": rng.choice(INDUSTRIES), "vip": rng.random() < 0.08,
                          "newsletter": rng.random() < 0.45, "language": city.language},
            ))
            stamps.append(self.ago(rng.uniform(DAY, 730 * DAY)))
        return _bulk_create(Customer, rows, stamps, updated=stamps)

    # -- catalog

    def products(self, count: int) -> tuple[list[Product], list[Sku]]:
        rng = self.rng
        rows, stamps, variants, names = [], [], [], set()
        for i in range(1, count + 1):
            family, brand, series = rng.choice(FAMILIES), BRANDS[(i - 1) % len(BRANDS)], rng.choice(SERIES)
            name = f"{brand} {series} {rng.choice(family.nouns)}"
            suffix = 2
            while name in names:
                name, suffix = f"{name.rsplit(' #', 1)[0]} #{suffix}", suffix + 1
            names.add(name)
            has_skus = bool(family.attributes) and rng.random() < 0.45
            product = Product(
                source_id=f"{DEMO_PREFIX}prod-{i:04d}", name=name, price=_price(rng, *family.price),
                attributes=list(family.attributes) if has_skus else [],
                metadata={"brand": brand, "family": family.name, "series": series},
            )
            rows.append(product)
            stamps.append(self.ago(rng.uniform(400 * DAY, 800 * DAY)))
            if has_skus:
                combos = [{}]
                for attribute, values in family.attributes.items():
                    combos = [{**combo, attribute: value} for combo in combos for value in values]
                variants.append((product, rng.sample(combos, min(len(combos), rng.randint(2, 6)))))
        _bulk_create(Product, rows, stamps, updated=stamps)

        skus, sku_stamps = [], []
        for product, combos in variants:
            for j, attributes in enumerate(combos, start=1):
                price = product.price
                if attributes.get("size") == "XL":
                    price += 500
                if attributes.get("weight") == "1kg":
                    price = (product.price + 1) * 3 - 1
                skus.append(Sku(
                    product=product, source_id=f"{product.source_id}-{j}",
                    sku=f"{product.name} " + " / ".join(str(v) for v in attributes.values()),
                    price=price, currency=settings.CURRENCY, attributes=attributes,
                    metadata={"brand": product.metadata["brand"]},
                ))
                sku_stamps.append(product.created_at)
        _bulk_create(Sku, skus, sku_stamps, updated=sku_stamps)
        self.skus_by_product: dict[int, list[Sku]] = {}
        for sku in skus:
            self.skus_by_product.setdefault(sku.product_id, []).append(sku)
        return rows, skus

    def collections(self, products: list[Product]) -> tuple[list[ProductCollection], int]:
        if not products:
            return [], 0
        rng = self.rng
        specs = [
            ("Bestsellers", ProductCollection.Type.STATIC, {}),
            ("Summer sale", ProductCollection.Type.STATIC, {}),
            ("Acme products", ProductCollection.Type.AUTO_UPDATE,
             {"junction": "and", "metadata.brand": {"conditions": {"$is": ["Acme"]}}}),
            ("Shoes under 100", ProductCollection.Type.AUTO_UPDATE,
             {"junction": "and", "metadata.family": {"conditions": {"$is": ["shoes"]}},
              "price": {"conditions": {"$less_than": [10000]}}}),
            ("Pro and Limited series", ProductCollection.Type.AUTO_UPDATE,
             {"junction": "or", "metadata.series": {"conditions": {"$in": ["Pro", "Limited"]}}}),
        ]
        rows = [ProductCollection(name=COLLECTION_PREFIX + name, type=type_, filter=filter_)
                for name, type_, filter_ in specs]
        stamps = [self.ago(rng.uniform(30 * DAY, 300 * DAY)) for _ in rows]
        _bulk_create(ProductCollection, rows, stamps, updated=stamps)
        items = []
        for collection, size in ((rows[0], 12), (rows[1], 8)):
            for product in rng.sample(products, min(size, len(products))):
                product_skus = self.skus_by_product.get(product.pk)
                if product_skus and rng.random() < 0.5:  # a single variant rather than the whole product
                    items.append(ProductCollectionItem(collection=collection, product=product,
                                                       sku=rng.choice(product_skus)))
                else:
                    items.append(ProductCollectionItem(collection=collection, product=product))
        ProductCollectionItem.objects.bulk_create(items, batch_size=BATCH_SIZE)
        return rows, len(items)

    # -- orders

    def orders(self, count: int, customers: list[Customer], products: list[Product]) -> tuple[list[Order], int]:
        if not count:
            return [], 0
        rng = self.rng
        # Skewed popularity: some customers order often, about a fifth never; some products sell a lot.
        customer_weights = [0 if rng.random() < 0.2 else rng.lognormvariate(0, 0.9) for _ in customers]
        if not any(customer_weights):
            customer_weights = [1] * len(customers)
        product_weights = [rng.lognormvariate(0, 0.9) for _ in products]
        horizon = 548 * DAY  # 18 months
        orders, stamps, updated, lines = [], [], [], []
        for i in range(1, count + 1):
            customer = rng.choices(customers, customer_weights)[0]
            since = min((self.now - customer.created_at).total_seconds(), horizon)
            age = rng.uniform(600, max(since, 601))
            if age < 3 * DAY:
                status = rng.choices(ORDER_STATUSES, (40, 10, 45, 5))[0]
            else:
                status = rng.choices(ORDER_STATUSES, ORDER_STATUS_WEIGHTS)[0]
            picked = set()
            items = []
            for position in range(rng.choices((1, 2, 3, 4, 5), (35, 30, 18, 10, 7))[0]):
                product = rng.choices(products, product_weights)[0]
                product_skus = self.skus_by_product.get(product.pk)
                sku = rng.choice(product_skus) if product_skus and rng.random() < 0.85 else None
                if (product.pk, sku and sku.pk) in picked:
                    continue
                picked.add((product.pk, sku and sku.pk))
                quantity = rng.choices((1, 2, 3), (75, 20, 5))[0]
                price = sku.price if sku else product.price
                items.append(OrderItem(
                    position=position,
                    related_object=OrderItem.RelatedObject.SKU if sku else OrderItem.RelatedObject.PRODUCT,
                    source_id=(sku or product).source_id, product=product, sku=sku,
                    quantity=quantity, price=price, amount=price * quantity,
                    product_snapshot={"name": product.name, "price": product.price},
                    sku_snapshot={"sku": sku.sku, "price": sku.price} if sku else {},
                ))
            amount = sum(item.amount for item in items)
            counted = status in Order.COUNTED_STATUSES
            ordered_at = self.ago(age)
            orders.append(Order(
                source_id=f"{DEMO_PREFIX}ord-{i:06d}", status=status, customer=customer, amount=amount,
                ordered_at=ordered_at,
                metadata={"channel": rng.choices(("web", "app", "store"), (55, 30, 15))[0],
                          "payment_method": rng.choice(("card", "paypal", "blik", "bank_transfer"))},
                counted_amount=amount if counted else None, counted_customer=customer if counted else None,
            ))
            stamps.append(ordered_at)
            later = min(age, rng.uniform(0, 5 * DAY)) if status != Order.Status.CREATED else 0
            updated.append(self.ago(age - later))
            lines.append(items)
        _bulk_create(Order, orders, stamps, updated=updated)
        all_items = []
        for order, items in zip(orders, lines, strict=True):
            for item in items:
                item.order = order
                all_items.append(item)
        OrderItem.objects.bulk_create(all_items, batch_size=BATCH_SIZE)
        return orders, len(all_items)

    def aggregates(self) -> None:
        """Customers' order aggregates from their counted (PAID/FULFILLED) orders: one grouped query,
        then one bulk UPDATE. Each counted order already carries counted_amount/counted_customer."""
        latest = Order.objects.filter(counted_customer=OuterRef("counted_customer")).order_by("-ordered_at", "-id")
        rows = (
            Order.objects.filter(counted_customer__source_id__startswith=DEMO_PREFIX)
            .values("counted_customer")
            .annotate(count=Count("id"), total=Sum("counted_amount"), first=Min("ordered_at"), last=Max("ordered_at"),
                      last_amount=Subquery(latest.values("counted_amount")[:1]))
            .order_by()
        )
        customers = [
            Customer(pk=row["counted_customer"], orders_total_count=row["count"], orders_total_amount=row["total"],
                     first_order_date=row["first"], last_order_date=row["last"], last_order_amount=row["last_amount"])
            for row in rows
        ]
        _bulk_set(Customer, customers, ["orders_total_count", "orders_total_amount", "first_order_date",
                                        "last_order_date", "last_order_amount"])

    # -- events

    def events(self, count: int, customers: list[Customer], products: list[Product]) -> int:
        if not count or not customers:
            return 0
        rng = self.rng
        active = rng.sample(customers, min(len(customers), max(1, round(count / 6))))
        rows, stamps, subscribed = [], [], set()
        for _ in range(count):
            customer = rng.choice(active)
            name = rng.choices(EVENT_NAMES, EVENT_WEIGHTS)[0]
            if name == "newsletter_subscribed" and customer.pk in subscribed:
                name = "app_opened"
            if name in ("product_viewed", "review_left") and not products:
                name = "app_opened"
            if name == "product_viewed":
                product = rng.choice(products)
                metadata = {"product_id": product.source_id, "product_name": product.name}
            elif name == "review_left":
                product = rng.choice(products)
                rating = rng.choices((1, 2, 3, 4, 5), (5, 5, 15, 35, 40))[0]
                metadata = {"product_id": product.source_id, "rating": rating}
            elif name == "newsletter_subscribed":
                subscribed.add(customer.pk)
                metadata = {"list": rng.choice(("weekly", "offers")), "source": rng.choice(("checkout", "footer"))}
            else:
                metadata = {"platform": rng.choice(("ios", "android")), "version": f"3.{rng.randint(0, 9)}"}
            since = min((self.now - customer.created_at).total_seconds(), 180 * DAY)
            rows.append(CustomEvent(name=name, customer=customer, metadata=metadata))
            stamps.append(self.ago(rng.uniform(60, max(since, 61))))
        _bulk_create(CustomEvent, rows, stamps)
        return len(rows)
