"""Fixed reference tables the synthetic records draw from. Tuples and dicts only (never sets), so
every draw is in a stable order on every machine."""

from __future__ import annotations

import datetime as dt

# Records describe the world as of this day, never the wall clock, so they never drift.
REFERENCE_DATE = dt.date(2025, 6, 30)
STAMP_START = dt.date(2019, 1, 1)

# (dialect surname, Hanyu Pinyin surname, dialect code)
CHINESE_SURNAMES = (
    ("TAN", "CHEN", "HK"),
    ("LIM", "LIN", "HK"),
    ("LEE", "LI", "HK"),
    ("NG", "HUANG", "TC"),
    ("ONG", "WANG", "HK"),
    ("WONG", "HUANG", "CA"),
    ("GOH", "WU", "HK"),
    ("CHUA", "CAI", "HK"),
    ("CHAN", "CHEN", "CA"),
    ("KOH", "XU", "HK"),
    ("TEO", "ZHANG", "TC"),
    ("ANG", "HONG", "HK"),
    ("YEO", "YANG", "HK"),
    ("TAY", "ZHENG", "HK"),
    ("HO", "HE", "CA"),
    ("LOW", "LIU", "TC"),
    ("TOH", "ZHUO", "TC"),
    ("SIM", "SHEN", "TC"),
    ("CHONG", "ZHANG", "HA"),
    ("CHIA", "XIE", "TC"),
    ("SEAH", "XIE", "TC"),
    ("LAU", "LIU", "CA"),
    ("PHUA", "PAN", "TC"),
    ("QUEK", "GUO", "HK"),
    ("KHOO", "QIU", "HK"),
    ("LEONG", "LIANG", "CA"),
    ("FOO", "HU", "HA"),
    ("WEE", "HUANG", "HN"),
    ("YAP", "YE", "HA"),
    ("POH", "FU", "HN"),
)
DIALECTS = {"HK": "HOKKIEN", "TC": "TEOCHEW", "CA": "CANTONESE", "HA": "HAKKA", "HN": "HAINANESE"}

# (dialect given name, Hanyu Pinyin given name)
CHINESE_GIVEN_MALE = (
    ("WEI MING", "WEI MING"),
    ("JUN JIE", "JUN JIE"),
    ("KAH HENG", "JIA XING"),
    ("SOON HUAT", "SHUN FA"),
    ("BOON KIAT", "WEN JIE"),
    ("CHEE KEONG", "ZHI QIANG"),
    ("ZHI HAO", "ZHI HAO"),
    ("KOK WAH", "GUO HUA"),
    ("YONG JIN", "YONG JIN"),
    ("HENG HUAT", "XING FA"),
    ("WEE LIANG", "WEI LIANG"),
    ("JIA HUI", "JIA HUI"),
    ("SENG CHOON", "SHENG CHUN"),
    ("YI XUAN", "YI XUAN"),
    ("KIAN BOON", "JIAN WEN"),
    ("TECK SOON", "DE SHUN"),
)
CHINESE_GIVEN_FEMALE = (
    ("HUI LING", "HUI LING"),
    ("XIN YI", "XIN YI"),
    ("BEE LENG", "MEI LING"),
    ("SIEW MEI", "XIU MEI"),
    ("YEE TENG", "YI TING"),
    ("PEI SHAN", "PEI SHAN"),
    ("AI LIAN", "AI LIAN"),
    ("SHU TING", "SHU TING"),
    ("MEI XUAN", "MEI XUAN"),
    ("LAY HOON", "LI YUN"),
    ("CHOO ENG", "ZHU YING"),
    ("WAN TING", "WAN TING"),
    ("GEK HOON", "YU YUN"),
    ("JIA YING", "JIA YING"),
    ("SOK KHIM", "SHU QIN"),
    ("YU XIN", "YU XIN"),
)
ENGLISH_MALE = ("JOHN", "DANIEL", "MICHAEL", "RYAN", "MARCUS", "JOSHUA", "JERMAINE", "KELVIN", "BENJAMIN")
ENGLISH_FEMALE = ("TRICIA", "RACHEL", "MICHELLE", "JOANNE", "SERENE", "CHLOE", "GRACE", "VIVIAN", "SHERYL")

MALAY_MALE = (
    "MUHAMMAD HAFIZ",
    "AHMAD FAIZAL",
    "MOHAMED IRFAN",
    "MUHAMMAD DANIAL",
    "ABDUL RAHMAN",
    "HAIRUL NIZAM",
    "ISKANDAR",
    "RIDZUAN",
    "SYAFIQ",
    "ZULKIFLI",
    "AZMAN",
    "KHAIRUL ANWAR",
)
MALAY_FEMALE = (
    "NUR AISYAH",
    "SITI NURHALIZA",
    "NURUL HUDA",
    "FARAH DIBA",
    "NUR SYAFIQAH",
    "ZAINAB",
    "NORAINI",
    "SITI AMINAH",
    "HIDAYAH",
    "NADIAH",
    "AISHAH",
    "ROSLINDA",
)
INDIAN_MALE = (
    "RAJESH",
    "ARJUN",
    "SURESH",
    "KUMAR",
    "VIKRAM",
    "GANESH",
    "PRAKASH",
    "RAVI",
    "MURALI",
    "SATHISH",
    "KRISHNAN",
    "RAMASAMY",
    "SUBRAMANIAM",
    "SELVAM",
)
INDIAN_FEMALE = ("PRIYA", "KAVITHA", "DEVI", "LAKSHMI", "MEENA", "ANITHA", "SARASWATHI", "DIVYA", "REVATHI")
EURASIAN_SURNAMES = (
    "DE SOUZA",
    "PEREIRA",
    "FERNANDEZ",
    "D'CRUZ",
    "RODRIGUES",
    "SCHOON",
    "MINJOOT",
    "SIMMONS",
)
EURASIAN_MALE = ("DANIEL", "MICHAEL", "ADRIAN", "GERALD", "NICHOLAS", "PATRICK", "SHAUN")
EURASIAN_FEMALE = ("SARAH", "MELISSA", "JOANNA", "CAROL", "NATALIE", "CLAIRE", "VANESSA")

# (race code, desc, share of residents in percent)
RACES = (("CN", "CHINESE", 74), ("MY", "MALAY", 13), ("IN", "INDIAN", 9), ("EU", "EURASIAN", 4))

# (country code, nationality desc, country desc) for people born or holding nationality abroad.
FOREIGN_COUNTRIES = (
    ("MY", "MALAYSIAN", "MALAYSIA"),
    ("CN", "CHINESE", "CHINA"),
    ("IN", "INDIAN", "INDIA"),
    ("PH", "FILIPINO", "PHILIPPINES"),
    ("ID", "INDONESIAN", "INDONESIA"),
    ("GB", "BRITISH", "UNITED KINGDOM"),
)
RACE_HOME_COUNTRY = {"CN": ("MY", "CN"), "MY": ("MY", "ID"), "IN": ("IN", "MY"), "EU": ("GB", "MY")}

# HDB estates: (street, first two digits of postal code)
HDB_STREETS = (
    ("BEDOK NORTH AVENUE 4", "46"),
    ("ANG MO KIO AVENUE 3", "56"),
    ("TAMPINES STREET 21", "52"),
    ("JURONG WEST STREET 52", "64"),
    ("WOODLANDS DRIVE 14", "73"),
    ("YISHUN RING ROAD", "76"),
    ("TOA PAYOH LORONG 1", "31"),
    ("SENGKANG EAST WAY", "54"),
    ("PUNGGOL FIELD", "82"),
    ("CLEMENTI AVENUE 2", "12"),
    ("HOUGANG AVENUE 8", "53"),
    ("BUKIT BATOK WEST AVENUE 6", "65"),
    ("CHOA CHU KANG AVENUE 4", "68"),
    ("PASIR RIS STREET 11", "51"),
    ("SERANGOON AVENUE 2", "55"),
    ("BISHAN STREET 13", "57"),
    ("COMMONWEALTH DRIVE", "14"),
    ("GEYLANG BAHRU", "33"),
)
# Private estates: (building, street, postal prefix); an empty building means landed property.
PRIVATE_ADDRESSES = (
    ("PEARL GARDEN", "BEDOK NORTH AVENUE 4", "46"),
    ("THE CASCADIA", "BUKIT TIMAH ROAD", "26"),
    ("D'LEEDON", "LEEDON HEIGHTS", "26"),
    ("REFLECTIONS AT KEPPEL BAY", "KEPPEL BAY VIEW", "09"),
    ("TREASURE AT TAMPINES", "TAMPINES LANE", "52"),
    ("THE INTERLACE", "DEPOT ROAD", "10"),
    ("WATERFRONT WAVES", "BEDOK RESERVOIR VIEW", "47"),
    ("PARC ESTA", "SIMS AVENUE", "40"),
    ("", "JALAN KEMBANGAN", "41"),
    ("", "SERANGOON GARDEN WAY", "55"),
    ("", "SIGLAP HILL", "45"),
)
EC_BUILDINGS = (("PIERMONT GRAND", "SUMANG WALK", "82"), ("PARC CANBERRA", "CANBERRA WALK", "75"))

HDB_TYPES = (
    ("112", "2-ROOM FLAT (HDB)", 4),
    ("113", "3-ROOM FLAT (HDB)", 20),
    ("114", "4-ROOM FLAT (HDB)", 40),
    ("115", "5-ROOM FLAT (HDB)", 26),
    ("116", "EXECUTIVE FLAT (HDB)", 8),
    ("118", "STUDIO APARTMENT (HDB)", 2),
)
HDB_PRICES = {"112": 150_000, "113": 320_000, "114": 480_000, "115": 580_000, "116": 700_000, "118": 120_000}

# (SSOC code, occupation, monthly pay low, high, needs a degree)
OCCUPATIONS = (
    ("25140", "APPLICATIONS/SYSTEMS PROGRAMMER", 4500, 11000, True),
    ("24111", "ACCOUNTANT", 4000, 9000, True),
    ("22200", "REGISTERED NURSE", 3200, 6500, False),
    ("23100", "UNIVERSITY LECTURER", 7000, 14000, True),
    ("12211", "SALES AND MARKETING MANAGER", 6000, 15000, True),
    ("21490", "ENGINEER", 4200, 9500, True),
    ("33491", "ADMINISTRATIVE EXECUTIVE", 2800, 5000, False),
    ("41101", "OFFICE CLERK", 2200, 3500, False),
    ("52201", "SALES ASSISTANT", 1900, 3000, False),
    ("83221", "TAXI DRIVER", 2200, 4000, False),
    ("51201", "COOK", 2000, 3800, False),
    ("72331", "AIRCRAFT MECHANIC", 3000, 6000, False),
    ("26111", "LAWYER", 7500, 20000, True),
    ("22110", "MEDICAL DOCTOR", 9000, 25000, True),
    ("91131", "CLEANER", 1500, 2200, False),
    ("13300", "IT MANAGER", 8000, 16000, True),
)
EMPLOYER_WORDS = (
    "CRYSTAL HORSE",
    "DELTA MARINE",
    "LION CITY",
    "MERLION",
    "RED DOT",
    "ORCHID",
    "KALLANG",
    "JURONG",
    "TEMASEK BAY",
    "SENTOSA",
    "STRAITS",
    "HARBOURFRONT",
    "RAFFLES",
    "GOLDEN MILE",
    "BUKIT",
    "EVERGREEN",
)
EMPLOYER_TRADES = (
    "INVEST",
    "LOGISTICS",
    "DIGITAL",
    "ENGINEERING",
    "HOLDINGS",
    "TRADING",
    "HEALTHCARE",
    "FOODS",
    "CONSULTANTS",
    "TECHNOLOGIES",
    "SHIPPING",
    "PROPERTIES",
)
EMPLOYER_SUFFIXES = ("PTE LTD", "PTE LTD", "PTE LTD", "PL", "LTD", "LLP")

# (code, desc, typical age at completion)
EDU_LEVELS = (
    ("1", "PRIMARY", 12),
    ("2", "LOWER SECONDARY", 14),
    ("3", "SECONDARY", 16),
    ("4", "POST-SECONDARY (NON-TERTIARY): GENERAL & VOCATION", 18),
    ("5", "POLYTECHNIC DIPLOMA", 19),
    ("6", "PROFESSIONAL QUALIFICATION AND OTHER DIPLOMA", 24),
    ("7", "BACHELOR'S OR EQUIVALENT", 23),
    ("9", "MASTER'S AND DOCTORATE OR EQUIVALENT", 27),
)
# Schools by the lowest education level code they award; codes follow MOE's "T07GS3203L" pattern.
SCHOOLS = {
    "1": (("T08PS0101A", "ANG MO KIO PRIMARY SCHOOL"), ("T08PS0207C", "TAMPINES PRIMARY SCHOOL")),
    "3": (
        ("T07GS3203L", "BUKIT MERAH SECONDARY SCHOOL"),
        ("T07GS3011B", "RAFFLES INSTITUTION"),
        ("T07GS3119D", "BEDOK VIEW SECONDARY SCHOOL"),
    ),
    "4": (("T08GB0015E", "ITE COLLEGE EAST"), ("T08GB0021K", "HWA CHONG INSTITUTION")),
    "5": (("T08GB0032F", "NGEE ANN POLYTECHNIC"), ("T08GB0046G", "SINGAPORE POLYTECHNIC")),
    "7": (
        ("T08GB0057M", "NATIONAL UNIVERSITY OF SINGAPORE"),
        ("T08GB0068N", "NANYANG TECHNOLOGICAL UNIVERSITY"),
        ("T08GB0079P", "SINGAPORE MANAGEMENT UNIVERSITY"),
    ),
}
SUBJECTS = ("ENGLISH LANGUAGE", "MATHEMATICS", "SCIENCE (PHYSICS, CHEMISTRY)", "GEOGRAPHY", "MOTHER TONGUE")
GRADES = ("A1", "A2", "B3", "B4", "C5", "C6")

# (make, model, engine cc, propellant)
VEHICLE_MODELS = (
    ("TOYOTA", "TOYOTA COROLLA ALTIS", 1598, "Petrol"),
    ("TOYOTA", "TOYOTA CAMRY HYBRID", 2487, "Petrol-Electric"),
    ("HONDA", "HONDA CIVIC", 1498, "Petrol"),
    ("HONDA", "HONDA VEZEL", 1496, "Petrol"),
    ("MAZDA", "MAZDA 3", 1496, "Petrol"),
    ("HYUNDAI", "HYUNDAI AVANTE", 1591, "Petrol"),
    ("KIA", "KIA SEDONA", 2199, "Diesel"),
    ("MERCEDES-BENZ", "MERCEDES-BENZ C200", 1496, "Petrol"),
    ("BMW", "BMW 320I", 1998, "Petrol"),
    ("VOLKSWAGEN", "VOLKSWAGEN GOLF", 1395, "Petrol"),
    ("NISSAN", "NISSAN SYLPHY", 1598, "Petrol"),
    ("TESLA", "TESLA MODEL 3", 0, "Electric"),
    ("BYD", "BYD ATTO 3", 0, "Electric"),
    ("MITSUBISHI", "MITSUBISHI ATTRAGE", 1193, "Petrol"),
)
COLOURS = ("BLACK", "WHITE", "SILVER", "GREY", "BLUE", "RED")
LICENCE_CLASSES = ("3", "3A", "2B", "2A", "4")
INSURERS = ("GEL", "9GEL", "NTUC")
BANKS = ("DBS", "OCBC", "UOB")
