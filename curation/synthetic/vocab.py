"""Hand-written word lists and text fragments for the synthetic web corpus (data only).

Invariants the generator relies on: every English word is lowercase ASCII letters only, so a
generated token is exactly one word after ``normalize``; non-English words are letters only
(accents allowed), without apostrophes or hyphens. Tuples that repeat an entry weight it.
"""

from __future__ import annotations

# The 24 WebOrganizer topics, most popular first (the generator's Zipf rank order).
TOPICS: dict[str, tuple[str, ...]] = {
    "entertainment": tuple(
        "movie film celebrity actor actress television episode series premiere concert album "
        "singer comedian soundtrack blockbuster trailer sitcom documentary streaming showbiz "
        "podcast musical theater drama sequel franchise cinema cast fans gossip hit audience "
        "director remake".split()
    ),
    "finance_and_business": tuple(
        "market investment stock bond dividend revenue profit startup entrepreneur shareholder "
        "portfolio inflation interest loan mortgage bank credit budget accounting audit merger "
        "acquisition valuation equity capital liquidity tax earnings invoice customer sales "
        "marketing investor economy currency".split()
    ),
    "health": tuple(
        "doctor patient hospital clinic disease symptom diagnosis treatment therapy medicine "
        "vaccine infection nutrition diet vitamin cholesterol diabetes cancer heart blood "
        "pressure sleep stress anxiety depression nurse surgery prescription immunity allergy "
        "pain recovery wellness injury".split()
    ),
    "politics": tuple(
        "election government parliament senator congress president minister campaign vote "
        "ballot policy lawmaker democracy coalition opposition referendum diplomacy sanction "
        "constitution governor mayor senate debate poll candidate voter reform bill caucus "
        "cabinet embassy protest ideology bureaucracy".split()
    ),
    "sports_and_fitness": tuple(
        "football soccer basketball baseball tennis golf cricket rugby hockey marathon athlete "
        "coach team league championship stadium workout gym exercise fitness cardio yoga "
        "stretching muscle endurance sprint goal referee playoff medal olympics cyclist swimmer "
        "dumbbell treadmill".split()
    ),
    "education_and_jobs": tuple(
        "school teacher student curriculum classroom university college lecture homework exam "
        "degree diploma scholarship tuition internship career resume recruiter interview salary "
        "employer employee apprenticeship training mentor graduate semester faculty vocation "
        "hiring promotion kindergarten syllabus tutor".split()
    ),
    "travel_and_tourism": tuple(
        "travel tourism hotel resort vacation trip journey passport visa luggage suitcase beach "
        "cruise destination itinerary sightseeing tourist guide hostel booking reservation "
        "airline flight souvenir landmark excursion backpacking adventure camping hiking tour "
        "museum".split()
    ),
    "food_and_dining": tuple(
        "recipe restaurant chef kitchen ingredient flour butter garlic onion tomato cheese pasta "
        "noodle soup salad dessert bakery bread pastry spice sauce menu brunch breakfast dinner "
        "lunch flavor oven grill vegetable fruit coffee tea wine cuisine dish".split()
    ),
    "home_and_hobbies": tuple(
        "garden gardening furniture sofa countertop renovation wallpaper carpet plumbing "
        "knitting sewing quilting crochet woodworking scrapbooking birdwatching aquarium pet dog "
        "cat plant flower seed compost lawn decor cushion curtain shelf basement attic backyard "
        "craft yarn candle toolbox".split()
    ),
    "science_math_and_technology": tuple(
        "physics chemistry biology equation theorem hypothesis experiment laboratory molecule "
        "atom electron quantum gravity energy velocity acceleration calculus algebra geometry "
        "probability statistics genome enzyme cell telescope galaxy planet orbit particle "
        "research scientist measurement satellite theory".split()
    ),
    "software_development": tuple(
        "compiler repository debugging refactoring codebase function variable framework library "
        "deployment pipeline commit branch merge syntax algorithm runtime interpreter python "
        "rust kotlin api endpoint module testing docker kubernetes backend frontend developer "
        "programmer loop recursion exception iterator debugger linter microservice "
        "dependency".split()
    ),
    "crime_and_law": tuple(
        "court judge attorney lawyer verdict lawsuit prosecutor defendant testimony statute "
        "felony misdemeanor police detective burglary fraud homicide sentencing appeal jury "
        "evidence warrant arrest custody parole probation legislation plaintiff subpoena "
        "indictment trial witness robbery smuggling tribunal".split()
    ),
    "fashion_and_beauty": tuple(
        "dress shirt jacket sneaker handbag jewelry necklace lipstick mascara skincare "
        "moisturizer perfume fragrance hairstyle manicure makeup runway boutique wardrobe outfit "
        "denim silk cotton heel accessory trend style serum cosmetic salon tailor fabric couture "
        "sunscreen".split()
    ),
    "religion": tuple(
        "church temple mosque synagogue prayer faith belief scripture bible gospel sermon priest "
        "pastor rabbi imam monk saint spirituality worship ritual pilgrimage theology doctrine "
        "congregation blessing heaven soul meditation devotion hymn prophet sacrament divinity "
        "sabbath chapel".split()
    ),
    "history_and_geography": tuple(
        "empire dynasty kingdom war treaty revolution century civilization archaeology monument "
        "ruins pharaoh emperor colony border continent river mountain valley desert island "
        "peninsula ocean climate map latitude population castle explorer migration battle "
        "heritage".split()
    ),
    "social_life": tuple(
        "friendship party neighbor community gathering wedding birthday family relationship "
        "conversation picnic invitation celebration reunion volunteer club etiquette parenting "
        "marriage sibling roommate holiday meetup networking kindness loneliness anniversary "
        "grandparent toddler teenager advice compassion".split()
    ),
    "games": tuple(
        "game player level quest console controller gameplay multiplayer character boss dungeon "
        "puzzle chess card dice board tournament esports tactic score achievement inventory "
        "sandbox shooter rpg arcade speedrun guild loot avatar respawn mod patch "
        "leaderboard".split()
    ),
    "electronics_and_hardware": tuple(
        "transistor capacitor resistor circuit motherboard processor chipset voltage "
        "semiconductor microcontroller soldering oscilloscope amplifier battery charger sensor "
        "diode inductor firmware keyboard monitor laptop smartphone headphone router cable "
        "connector gpu memory ssd printer speaker antenna breadboard".split()
    ),
    "literature": tuple(
        "novel poem poetry poet author writer chapter narrative protagonist plot fiction memoir "
        "biography essay prose verse stanza sonnet metaphor symbolism publisher manuscript "
        "bestseller anthology critique epilogue prologue trilogy bookshop reader storyteller "
        "fable myth tragedy satire".split()
    ),
    "art_and_design": tuple(
        "painting sculpture canvas gallery palette portrait sketch illustration typography "
        "exhibition curator watercolor ceramics pottery mural aesthetic composition texture "
        "pigment brushwork photography printmaking collage mosaic easel charcoal lithograph "
        "studio artwork designer layout logo graphic font silhouette etching engraving".split()
    ),
    "transportation": tuple(
        "car truck bus train railway subway tram bicycle motorcycle airplane airport highway "
        "traffic road bridge tunnel vehicle engine fuel diesel commute driver passenger freight "
        "cargo shipping port harbor ferry pilot taxi parking intersection transit".split()
    ),
    "software": tuple(
        "app application download installation update version browser plugin extension "
        "subscription license settings dashboard interface user account password antivirus "
        "spreadsheet editor toolbar shortcut cloud backup sync feature release bug windows "
        "linux android desktop workflow productivity".split()
    ),
    "industrial": tuple(
        "factory manufacturing machinery steel welding assembly conveyor turbine pump valve "
        "piping forklift warehouse logistics supply chemical plastic concrete cement mining "
        "excavation crane boiler compressor hydraulics automation robotics foundry smelting "
        "refinery textile lathe tooling maintenance inspection production".split()
    ),
    "adult_content": tuple(
        "dating romance nightlife mature explicit flirt intimacy desire lingerie seduction "
        "passion spark attraction partner fantasy affair temptation boudoir nightclub lounge "
        "encounter cabaret burlesque chatroom webcam companionship singles sensuality allure "
        "courtship rendezvous matchmaking crush lover valentine".split()
    ),
}

# Shared English words by part of speech (verbs are third person singular or past tense).
COMMON: dict[str, tuple[str, ...]] = {
    "det": ("the",) * 8
    + tuple("this that each every our their its some another any such one no".split()),
    "pron": tuple("it he she everyone someone nobody everybody anyone".split()),
    "adj": tuple(
        "new good important large small local public common simple modern early recent strong "
        "clear different similar major general national social personal significant practical "
        "basic careful useful popular complex natural main regular special traditional "
        "available possible difficult easy free full whole final current serious direct "
        "private real true open wide short long".split()
    ),
    "noun": tuple(
        "time people way year day world life part place case work system number group problem "
        "fact area point question idea result process change example plan history report "
        "information service issue side kind head house program power money story job "
        "experience reason effect choice value quality model role project method "
        "approach practice purpose detail future standard benefit condition resource decision "
        "opportunity structure material period position element".split()
    ),
    "verb": tuple(
        "supports includes provides requires describes improves changed created reduced "
        "followed explained offered showed built helped developed affected considered produced "
        "increased involved allowed received reached discussed presented introduced maintained "
        "compared replaced defined reviewed shaped managed limited selected expanded studied "
        "tested measured shared needs uses finds makes takes gives brings keeps leads meets "
        "holds covers connects combines protects encourages prepares organizes explores "
        "examines highlights addresses influences reflects improved supported described "
        "included required provided combined explored".split()
    ),
    "prep": ("of", "of", "of", "in", "in", "in", "to", "to", "with", "with")
    + tuple(
        "for on at by from about through during without within across between under after "
        "before around among into beyond toward".split()
    ),
    "conj": ("and", "and", "and")
    + tuple(
        "but while because although since whereas so as yet until unless if when though or".split()
    ),
    "adv": tuple(
        "often usually quickly carefully clearly rarely also still already simply directly "
        "slowly recently generally widely finally particularly easily nearly mostly actually "
        "certainly really probably perhaps today together again always never sometimes later "
        "soon well here instead once".split()
    ),
}

# Common words of five other languages, roughly most frequent first.
LANGUAGES: dict[str, tuple[str, ...]] = {
    "de": tuple(
        "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch "
        "es an werden aus er hat dass sie nach wird bei einer um am sind noch wie einem über "
        "einen so zum war haben nur oder aber vor zur bis mehr durch man sein wurde sei habe "
        "können gegen vom schon wenn seine jahr jahre heute müssen zwischen immer während "
        "großen viele wieder stadt unter weil sehr hier gibt ohne damit kommen leben arbeit "
        "menschen zeit welt kinder schule straße wasser häuser möglich später natürlich "
        "öffentlich gegenüber größer schön früher würde könnte hätte grün weiß fünf zwölf "
        "mädchen bücher zurück deutschen regierung unternehmen beispiel entwicklung frage "
        "geschichte gesellschaft wirtschaft".split()
    ),
    "fr": tuple(
        "de la le et les des en un du une que est pour qui dans par plus pas au sur ne se sont "
        "avec il elle ils nous vous leur mais ou comme tout été être fait aussi sa son ses "
        "cette très bien peut deux entre après même où sans sous année années français france "
        "pays ville monde temps vie travail enfants école eau maison gouvernement société "
        "histoire développement problème question déjà là à ça fête hôpital théâtre élève "
        "première dernière général économie santé sécurité qualité réalité café père mère "
        "frère château forêt côté île goût beaucoup toujours encore depuis pendant notre votre "
        "leurs chez donc alors ainsi avoir faire dire grand petit nouveau jour nuit semaine "
        "mois".split()
    ),
    "es": tuple(
        "de la que el en y los del se las por un para con no una su al lo como más pero sus "
        "le ya o este sí porque esta entre cuando muy sin sobre también me hasta hay donde "
        "quien desde todo nos durante todos uno les ni contra otros ese eso ante ellos esto "
        "mí antes algunos qué unos yo otro otras otra él tanto esa estos mucho quienes nada "
        "muchos cual poco ella estar estas algunas algo nosotros años país ciudad mundo vida "
        "trabajo gobierno niños escuela agua casa historia sociedad desarrollo problema "
        "pregunta además después según así aquí allí está están será había fútbol música "
        "política economía educación información región población corazón mañana "
        "español".split()
    ),
    "it": tuple(
        "di e il la che in a per un del è non una con sono le da al si dei gli come ma anche "
        "più nel lo alla della questo ha delle o se ci suo sua nella io ne hanno essere tutti "
        "loro cui dove quando molto stato fatto ancora tra dopo sempre così già perché però "
        "può città paese mondo vita lavoro governo bambini scuola acqua casa storia società "
        "sviluppo problema domanda qualità università attività possibilità età perciò lì là "
        "caffè ciò giù poiché affinché verità libertà tribù italiano regione popolo giorno "
        "anno anni tempo uomo donna famiglia parte modo cosa momento nostro vostro quale "
        "questa quello quella grande piccolo nuovo primo ultimo oggi ieri domani sera notte "
        "mese".split()
    ),
    "pt": tuple(
        "de a o que e do da em um para é com não uma os no se na por mais as dos como mas foi "
        "ao ele das tem à seu sua ou ser quando muito há nos já está eu também só pelo pela "
        "até isso ela entre era depois sem mesmo aos ter seus quem nas me esse eles estão "
        "você tinha foram essa num nem suas meu às minha têm numa pelos elas havia seja qual "
        "será nós tenho lhe deles essas esses pelas este fosse dele país cidade mundo vida "
        "trabalho governo crianças escola água casa história sociedade desenvolvimento "
        "problema pergunta então ação informação educação população região português mãe "
        "irmão coração lição".split()
    ),
}

# Country-code top-level domains for the URLs of non-English documents.
LANGUAGE_TLDS: dict[str, tuple[str, ...]] = {
    "de": ("de", "at", "ch"),
    "fr": ("fr", "be", "ca"),
    "es": ("es", "com.mx", "com.ar"),
    "it": ("it",),
    "pt": ("pt", "com.br"),
}
ENGLISH_TLDS = ("com",) * 6 + ("org", "net", "co.uk", "info", "io", "com.au")
SPAM_TLDS = ("biz", "xyz", "top", "click", "info")
SITE_SUFFIXES = tuple(
    "hub daily news world online blog guide times zone central today insider weekly digest "
    "review journal post".split()
)

# Benchmark fillers: names, places, objects that pluralise with a plain "s".
FIRST_NAMES = tuple(
    "anna ben clara david elena felix grace henry iris jonas karen leo maya nora oscar paula "
    "quinn rosa samuel tara umar vera walter yara zoe".split()
)
SURNAMES = tuple(
    "ashford brennan calloway delmar eastwick fairholm garrow halden ingram jessop kestrel "
    "lindqvist marlowe norcott oakley pemberton quarry redfield stanmore thackeray underhill "
    "vantongeren whitlock yardley".split()
)
TOWNS = tuple(
    "millbrook ashford harrowgate elmstead kingsbury larkhill northfield oakridge pinecrest "
    "queensport riverton stonebridge thornbury westmere brightwater cedarvale dunmore "
    "fairhaven glenwood hollowell".split()
)
ITEMS = tuple(
    "book chair lamp basket bottle ticket jacket bicycle poster candle notebook kettle blanket "
    "helmet guitar backpack umbrella clock mirror puzzle teapot pillow sandal camera drum "
    "kite".split()
)
VEHICLES = tuple("bus truck train van coach tractor ferry motorcycle".split())
CONCEPTS = tuple("principle method rule model theorem index effect law paradox scale".split())
SEASONS = tuple("spring summer autumn winter".split())

# One-word rewrites for the "reworded" benchmark copies; keys are lowercase template words.
SYNONYMS: dict[str, str] = {
    "small": "little",
    "makes": "produces",
    "every": "each",
    "local": "regional",
    "gives": "donates",
    "nearby": "neighbouring",
    "still": "now",
    "end": "close",
    "leaves": "departs",
    "travels": "moves",
    "steady": "constant",
    "speed": "pace",
    "drives": "runs",
    "short": "brief",
    "continues": "proceeds",
    "whole": "entire",
    "total": "overall",
    "sells": "offers",
    "normally": "usually",
    "costs": "sells for",
    "price": "cost",
    "applied": "used",
    "collects": "gathers",
    "decide": "agree",
    "share": "divide",
    "equally": "evenly",
    "friends": "companions",
    "receive": "get",
    "neighbour": "friend",
    "exactly": "precisely",
    "twice": "two times",
    "sum": "total",
    "people": "persons",
    "study": "field",
    "first": "originally",
    "described": "documented",
    "researchers": "scientists",
    "working": "based",
    "explains": "shows",
    "influence": "affect",
    "practice": "reality",
    "named": "called",
    "connect": "link",
    "institution": "organisation",
    "founded": "established",
    "known": "famous",
    "collection": "archive",
    "hosts": "holds",
    "annual": "yearly",
    "attracts": "draws",
    "many": "numerous",
    "visitors": "guests",
    "region": "area",
}

# Shared boilerplate spans (each over 500 UTF-8 bytes; some carry multi-byte characters).
BOILERPLATE: tuple[str, ...] = (
    "We value your privacy. This website uses cookies and similar technologies to improve your "
    "browsing experience, to personalise content and advertising, to provide social media "
    "features and to analyse our traffic. We also share information about your use of our site "
    "with our social media, advertising and analytics partners, who may combine it with other "
    "information that you have provided to them or that they have collected from your use of "
    "their services. By clicking “Accept all” you consent to the use of cookies. You can change "
    "your preferences at any time by selecting “Cookie settings” at the bottom of any page. "
    "Accept all | Reject all | Cookie settings",
    "© 2024 Example Media Group Ltd. All rights reserved. Registered in England and Wales, "
    "company number 01234567, registered office: 1 Example Street, London. Reproduction of any "
    "part of this website without prior written permission is prohibited. The information on "
    "this site is provided for general purposes only and does not constitute professional "
    "advice. Terms of use · Privacy policy · Cookie policy · Accessibility statement · "
    "Modern slavery statement · Contact us · Advertise with us · Careers · Sitemap. "
    "Prices and availability are subject to change without notice.",
    "Home » News » World » Business » Technology » Science » Health » Sport » Culture » "
    "Travel » Opinion\n"
    "Sections: Latest | Most read | Podcasts | Newsletters | Video | Photography | Live events\n"
    "Follow us: Facebook | Twitter | Instagram | LinkedIn | YouTube | RSS\n"
    "Sign in | Register | Subscribe | Gift a subscription | Help centre | Manage account\n"
    "Search this site: Go\n"
    "Today’s paper | Archive | Crosswords | Puzzles | Weather | Obituaries | Events\n"
    "Skip to main content | Skip to navigation | Accessibility help | Change edition: UK · US "
    "· International · Australia · Europe",
    "Subscribe to our newsletter! Get the latest stories, exclusive offers and expert tips "
    "delivered straight to your inbox every week. Enter your email address below and click "
    "“Sign me up”. You can unsubscribe at any time using the link at the bottom of every email. "
    "We will never sell your details to third parties.\n"
    "Comments policy: comments are moderated and may take up to 24 hours to appear. Please be "
    "respectful and stay on topic; abusive, off-topic or promotional comments will be removed. "
    "Report a comment | Leave a reply | Cancel reply",
    "Related articles\n"
    "• 10 things you need to know this week\n"
    "• The complete beginner’s guide — updated for this year\n"
    "• Readers’ picks: our most popular stories of the month\n"
    "• Ask the experts: your questions answered\n"
    "Share this article: Email · Facebook · X · WhatsApp · Copy link\n"
    "Tags: news, guides, reviews, features, analysis, opinion, lifestyle\n"
    "Was this article helpful? Yes / No — Thank you for your feedback!\n"
    "Advertisement — story continues below. Sponsored content from our partners appears "
    "here; we may earn a commission when you buy through links on our site.",
)

# Spam: keyword stuffing and repeated calls to action. Fields: k k2 k3 K site phone n.
SPAM_TEMPLATES: tuple[str, ...] = (
    "BUY {K} NOW!!! BEST PRICE GUARANTEED!!!",
    "cheap {k} cheap {k} cheap {k} discount {k} {k} online {k} sale",
    "Click here >>> https://{site}/{k} <<< CLICK HERE",
    "{k} {k2} {k} {k3} {k} best {k} free {k} deals {k} {k2}",
    "LIMITED OFFER: {n}% OFF ALL {K}!!! Order today and get FREE shipping!!!",
    "Top 10 {k} sites | best {k} | cheap {k} | {k} online | free {k}",
    "Call now {phone} to WIN a FREE {k}!!! Call now!!!",
    "{K} {K} {K} $$$ make money fast with {k} $$$",
    "best {k} best {k2} best {k3} best {k} best {k2} best {k3}",
    "Visit https://{site} for the cheapest {k} and {k2} deals online now",
)

# Low-quality lines: fragments, symbols, ellipses, bullets. Fields: w w2 W W2 n n2.
LOW_QUALITY_TEMPLATES: tuple[str, ...] = (
    "• {W}",
    "» {W} | {W2}",
    "- {w}",
    "Home | {W} | {W2} | Contact",
    "{W}...",
    "Read more...",
    "Loading...",
    "Click to expand...",
    "#### {W} ####",
    "*** {w} {w2} ***",
    "{W} >> {W2} >> {n}",
    "@{w}{n} #{w2} #{w}",
    "Posted by admin at {n}:{n2} | {n} comments",
    "Share: Facebook | Twitter | Email",
    "[{n}] {w}",
    "{n} / {n2}",
    "{w} {w2}",
)
# Lines that heuristic filters reject outright (lorem ipsum, javascript, curly braces).
# Fields as above plus lorem.
LOW_QUALITY_MARKERS: tuple[str, ...] = (
    "Lorem ipsum dolor sit amet, {lorem}.",
    'var {w} = document.getElementById("{w2}");',
    "function {w}() {{ return {n}; }}",
    "Please enable JavaScript to view the comments.",
    "{{{{ {w}.title }}}}",
    "window.onload = function() {{ init(); }};",
    '{{ "{w}": {n}, "{w2}": {n2} }}',
)
LOREM = tuple(
    "consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna "
    "aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea "
    "commodo consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat "
    "nulla pariatur excepteur sint occaecat cupidatat non proident sunt culpa qui officia "
    "deserunt mollit anim id est laborum".split()
)
