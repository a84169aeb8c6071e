"""Write ``synthetic_locomo.json``: a small, hand-written LoCoMo-format benchmark file.

Run ``python benchmarks/data/make_synthetic.py`` from the repo root; the output is
deterministic (fixed seed, sorted keys), so a regenerated file diffs clean.

Three conversations between two speakers, five dated sessions each, about concrete facts
(pets, jobs, trips, family, hobbies). Each session is a greeting, topics of two or three
turns, and a closing. Questions cover the five LoCoMo categories (1 multi-hop with two
evidence turns, 2 temporal "when", 3 open-domain inference, 4 single-hop, 5 adversarial
about things never said), are paraphrased so word overlap with the evidence is only partial,
and a few carry deliberately malformed, missing or junk evidence to exercise the normaliser.
Extra keys real files have (``sample_id``, ``event_summary``, ``observation``,
``session_summary``, ``img_url``/``blip_caption``) are present and must be ignored.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).resolve().parent / "synthetic_locomo.json"
SEED = 20240508

GREETINGS = [
    "Hey {other}! How has your week been?",
    "Hi {other}, it's been a while. What's new?",
    "Morning {other}! Got a minute to catch up?",
    "Hello {other}! I've been meaning to message you.",
]
REPLIES = [
    "Hi! Busy but good, I have a lot to tell you.",
    "Hey! It's been a hectic couple of weeks, honestly.",
    "Good to hear from you! Things are chaotic but fun.",
    "Hi there! Perfect timing, I was just making coffee.",
]
CLOSINGS = [
    "Anyway, I have to run. Talk soon!",
    "I should get some sleep. Speak next week?",
    "Got to go, but this was lovely. Bye for now!",
    "Let's catch up again soon, take care!",
]

# A topic is a list of turns (speaker index 0 or 1, text, fact key or None).
# A question: (category, question, answer, evidence fact keys, malformations).
# Hand-laid-out data: the formatter would spread each turn over many lines.
# fmt: off
SAMPLES: list[dict[str, Any]] = [
    {
        "sample_id": "synthetic-1",
        "speakers": ("Nadia", "Tomas"),
        "sessions": [
            ("1:56 pm on 8 May, 2023", [
                [(0, "Guess what, I adopted a three-year-old beagle from the shelter last "
                     "weekend. His name is Biscuit!", "dog"),
                 (1, "No way, congratulations! How is he settling in?", None),
                 (0, "He sniffs absolutely everything and howls when I leave the flat, but "
                     "he's sweet.", None)],
                [(1, "Big news on my side too: on Monday I started at a bridge design firm in "
                     "Porto as a structural engineer.", "tomas_job"),
                 (0, "That's perfect for you, you've always loved bridges.", None)],
                [(0, "The bakery in Baixa keeps me busy, I'm on the early shift making pasteis "
                     "de nata at five in the morning.", "nadia_job"),
                 (1, "Five am! I could never. Save me a custard tart next time.", None)],
                [(1, "I've also been taking cello lessons for about six months now, every "
                     "Thursday evening.", "cello"),
                 (0, "I love that. Is it hard on your fingers?", None),
                 (1, "Very, my fingertips were sore for weeks.", None)],
            ]),
            ("7:10 pm on 25 May, 2023", [
                [(0, "Biscuit chewed my running shoes to pieces, so I had to buy new ones, "
                     "bright orange trail runners.", "shoes"),
                 (1, "Ha, the beagle strikes again.", None)],
                [(1, "Our team won the contract to design the new footbridge over the Douro "
                     "river.", "contract"),
                 (0, "Wow, you'll be able to point at it for the rest of your life.", None),
                 (1, "If it gets built! Construction would start in 2025.", None)],
                [(0, "I signed up for the Lisbon half marathon in October, my first race "
                     "ever.", "marathon"),
                 (1, "That's brave. Are you following a training plan?", None),
                 (0, "Three runs a week, with a long one on Sundays.", None)],
                [(0, "My sister Lena is coming to stay with me next month. She lives in Berlin "
                     "and works as a nurse.", "lena"),
                 (1, "Nice, you two haven't seen each other since Christmas, right?", None)],
            ]),
            ("10:05 am on 14 June, 2023", [
                [(0, "Lena arrived on Tuesday and we took the train to Sintra to hike up to "
                     "the Moorish castle.", "sintra"),
                 (1, "Great views up there. Did Biscuit come along?", None),
                 (0, "He did, and he slept the whole way back.", None)],
                [(1, "I played my first cello recital yesterday, a Bach suite, and my hands "
                     "were shaking the whole time.", "recital"),
                 (0, "I bet nobody noticed. Was your teacher happy?", None),
                 (1, "She said my intonation is getting better, which from her is high "
                     "praise.", None)],
                [(0, "My neighbour's cat keeps sneaking into my kitchen through the "
                     "window.", None),
                 (1, "Keep it away from me, I'm badly allergic to cats. That's why we never "
                     "had animals at home growing up.", "allergy")],
                [(1, "Porto has been rainy all week, I've barely left the office.", None),
                 (0, "Lisbon is already too hot for running at noon.", None)],
            ]),
            ("4:30 pm on 2 August, 2023", [
                [(0, "I got promoted to head pastry chef! I now run the whole kitchen at the "
                     "bakery.", "promotion"),
                 (1, "Congratulations, chef! Do you get to choose the menu?", None),
                 (0, "Yes, I'm adding a pistachio croissant in September.", None)],
                [(1, "I booked two weeks in Japan for November, mostly Kyoto and then skiing "
                     "in Hokkaido.", "japan"),
                 (0, "Jealous! Eat all the ramen for me.", None)],
                [(0, "Poor Biscuit stepped on broken glass at the beach and needed surgery "
                     "on his paw.", "surgery"),
                 (1, "Oh no, is the little guy okay?", None),
                 (0, "He's wearing a cone and limping, but the vet says he'll recover "
                     "fully.", None)],
                [(1, "The footbridge design passed the first safety review, so my boss is "
                     "finally smiling.", None),
                 (0, "See, I told you it would go well.", None)],
            ]),
            ("9:15 am on 20 Sep, 2023", [
                [(1, "I bought a used 1998 Volvo estate, mainly so the cello fits in the "
                     "back.", "volvo"),
                 (0, "A Volvo! Very safe, very Swedish, very you.", None)],
                [(0, "Training is going well: I ran 18 kilometres on Sunday in under two "
                     "hours.", "training"),
                 (1, "You're going to smash that race in October.", None)],
                [(1, "My mother turned sixty last week and we threw her a surprise party in "
                     "Braga.", "mother"),
                 (0, "How lovely! Was she actually surprised?", None),
                 (1, "Completely, she cried when the whole family jumped out.", None)],
                [(0, "Biscuit has a new best friend, the neighbour's golden retriever. They "
                     "play in the park every evening.", None),
                 (1, "Good, he needs to burn off energy after the weeks in a cone.", None)],
            ]),
        ],
        "questions": [
            (4, "What kind of dog did Nadia get from the shelter?", "A beagle", ["dog"], []),
            (4, "Which musical instrument does Tomas study?", "The cello", ["cello"], []),
            (4, "In which city does Nadia's sister live?", "Berlin", ["lena"], []),
            (4, "What vehicle did Tomas purchase?", "A used 1998 Volvo estate", ["volvo"], []),
            (4, "What does Lena do for work?", "She is a nurse", ["lena"], ["junk"]),
            (4, "What colour are Nadia's new sneakers?", "Bright orange", ["shoes"], []),
            (1, "Which mishaps has Nadia's pet been involved in?",
             "He chewed her running shoes and later cut his paw on glass and needed surgery",
             ["shoes", "surgery"], ["joined_semicolon"]),
            (1, "What is Nadia's current role and where does she work?",
             "Head pastry chef at a bakery in Baixa, Lisbon", ["nadia_job", "promotion"], []),
            (1, "What project is Tomas's new employer working on?",
             "A footbridge over the Douro river", ["tomas_job", "contract"], ["space"]),
            (1, "Why did Tomas need a big car?",
             "To carry the cello he has been learning", ["cello", "volvo"], ["joined_space"]),
            (2, "When did Nadia bring Biscuit home?", "The weekend before 8 May 2023",
             ["dog"], []),
            (2, "When did Tomas perform in his first recital?", "13 June 2023", ["recital"],
             ["lower_punct"]),
            (2, "When is Tomas going to Japan?", "November 2023", ["japan"], []),
            (2, "When is Nadia's race?", "October 2023", ["marathon"], ["colon_space"]),
            (3, "Would Tomas be a good choice to look after a kitten?",
             "No, he is allergic to cats", ["allergy"], []),
            (3, "Is Nadia an early riser?", "Yes, her bakery shift starts at five am",
             ["nadia_job"], []),
            (3, "Does Tomas probably enjoy classical music?",
             "Yes, he plays Bach on the cello", ["recital", "cello"], ["comma", "missing"]),
            (5, "What breed is Tomas's dog?", "beagle", ["dog"], []),
            (5, "When did Nadia start learning the cello?", "six months before May 2023",
             ["cello"], []),
            (5, "Where did Nadia throw a surprise party for her mother?", "Braga",
             ["mother"], []),
            (5, "What is the name of Nadia's cat?", "Biscuit", [], []),
        ],
    },
    {
        "sample_id": "synthetic-2",
        "speakers": ("Priya", "Marcus"),
        "sessions": [
            ("3:15 pm on 12 March, 2022", [
                [(0, "I've been teaching chemistry at a secondary school in Leeds for six "
                     "years now, and this term I took over the Year 11 class.", "priya_job"),
                 (1, "Year 11, so exam season is on you. Brave.", None)],
                [(1, "I finally went fully freelance as a photographer, mostly weddings and "
                     "some food shoots for restaurants.", "marcus_job"),
                 (0, "That's a big leap! Do you have enough clients lined up?", None),
                 (1, "Enough for spring, and two weddings booked in June.", None)],
                [(0, "I signed up for a Saturday pottery course at the community studio, I "
                     "want to make my own mugs.", "pottery"),
                 (1, "Send me photos of the first wonky mug.", None)],
                [(0, "Pepper and Salt, my two cats, knocked my textbook into the bath this "
                     "morning.", "cats"),
                 (1, "Those two are chaos. Which one was it?", None),
                 (0, "Pepper, obviously. Salt just watched.", None)],
            ]),
            ("11:40 am on 2 April, 2022", [
                [(1, "I've started learning Spanish on an app every evening, I want to chat "
                     "with my partner Ana's family in Valencia.", "spanish"),
                 (0, "Que bien! How far along are you?", None),
                 (1, "I can order food and apologise a lot.", None)],
                [(0, "My first pottery mug came out of the kiln, it's lopsided and the blue "
                     "glaze ran, but I love it.", "mug"),
                 (1, "Lopsided mugs have character.", None)],
                [(1, "Bad news, my camera got stolen from my car in Manchester last week, so "
                     "I had to buy a new Sony.", "camera"),
                 (0, "That's awful, did you lose any photos?", None),
                 (1, "Luckily everything was backed up to the cloud.", None)],
                [(0, "We're planning a school trip to the Natural History Museum in May.",
                  None),
                 (1, "The dinosaur hall is the best part.", None)],
            ]),
            ("8:20 pm on 28 May, 2022", [
                [(0, "I'm going to Iceland in August with my brother Dev, we want to drive "
                     "the whole Ring Road in ten days.", "iceland"),
                 (1, "Take a good raincoat. And photos, lots of photos.", None)],
                [(1, "We're moving to Edinburgh at the end of the summer, Ana got a research "
                     "job at the university there.", "move"),
                 (0, "Edinburgh! That's far from Leeds, I'll miss our pub quizzes.", None),
                 (1, "You'll just have to visit. There's a spare room.", None)],
                [(0, "Salt has been diagnosed with diabetes, so now I give her an insulin "
                     "injection twice a day.", "diabetes"),
                 (1, "Poor Salt. Is she okay with the needles?", None),
                 (0, "She barely notices, as long as she gets a treat afterwards.", None)],
                [(1, "The June wedding I shot at a castle got featured in a photography "
                     "magazine.", "magazine"),
                 (0, "That's brilliant, your first feature!", None)],
            ]),
            ("6:45 pm on 21 August, 2022", [
                [(0, "Iceland was unreal, we saw puffins in Vik and I swam in a geothermal "
                     "lagoon near Myvatn.", "iceland_done"),
                 (1, "Jealous. Did the weather behave?", None),
                 (0, "It rained every day, but the waterfalls made up for it.", None)],
                [(1, "We found a flat in Leith, near the water, and the movers come on the "
                     "30th.", "leith"),
                 (0, "Leith is lovely, all those seafood places.", None)],
                [(0, "The school asked me to become head of the science department from "
                     "September.", "head_dept"),
                 (1, "Well deserved. More meetings though!", None),
                 (0, "So many meetings.", None)],
                [(1, "I passed my first Spanish exam, level A2, with 86 percent.", "a2"),
                 (0, "Muy bien! Ana's family must be impressed.", None)],
            ]),
            ("1:05 pm on 9 October, 2022", [
                [(1, "Edinburgh is great, I already have my first client here, a whisky "
                     "distillery that wants photos of their barrels.", "distillery"),
                 (0, "Perfect job for you, do you get free samples?", None)],
                [(0, "I sold four of my mugs at the school's autumn craft fair and gave the "
                     "money to the animal shelter.", "craft"),
                 (1, "From lopsided mug to professional potter!", None)],
                [(1, "Ana and I adopted a retired greyhound called Rocket from a rescue in "
                     "Fife.", "rocket"),
                 (0, "A greyhound! Do they really sleep all day?", None),
                 (1, "Twenty hours a day on the sofa, then five minutes of zoomies.", None)],
                [(0, "Department meetings are every Tuesday after school now, which is as "
                     "fun as it sounds.", None),
                 (1, "Bring biscuits, it helps.", None)],
            ]),
        ],
        "questions": [
            (4, "What subject does Priya teach?", "Chemistry", ["priya_job"], []),
            (4, "What are Priya's cats called?", "Pepper and Salt", ["cats"], []),
            (4, "Which language is Marcus studying?", "Spanish", ["spanish"], []),
            (4, "What dog did Marcus and Ana take in?", "A retired greyhound named Rocket",
             ["rocket"], []),
            (4, "Which part of Edinburgh did Marcus settle in?", "Leith", ["leith"], []),
            (4, "Who travelled to Iceland with Priya?", "Her brother Dev", ["iceland"], []),
            (1, "Why does Marcus live in Scotland now, and who is his first client there?",
             "Ana's research job at the university; a whisky distillery",
             ["move", "distillery"], ["comma"]),
            (1, "What has Priya made in her ceramics class and what became of some pieces?",
             "Mugs; she sold four at the craft fair for the animal shelter",
             ["mug", "craft"], []),
            (1, "How has Priya's career at her school progressed?",
             "From chemistry teacher to head of the science department",
             ["priya_job", "head_dept"], ["missing"]),
            (1, "Where did Priya travel in the summer and what did she see there?",
             "Iceland's Ring Road; puffins, a geothermal lagoon and waterfalls",
             ["iceland", "iceland_done"], ["space"]),
            (2, "When did Marcus's camera get stolen?", "Late March 2022", ["camera"], []),
            (2, "When did Priya go to Iceland?", "August 2022", ["iceland"], []),
            (2, "When was Salt diagnosed as diabetic?", "Around late May 2022",
             ["diabetes"], ["lower_punct"]),
            (2, "When did Marcus pass his language exam?", "August 2022", ["a2"], []),
            (3, "Is Marcus likely to own professional camera gear?",
             "Yes, he is a freelance photographer and bought a new Sony",
             ["camera", "marcus_job"], []),
            (3, "Does Priya care about animal welfare?",
             "Yes, she gave her craft fair money to the animal shelter", ["craft"], []),
            (3, "Could Marcus order a meal on holiday in Spain?", "Yes", ["spanish"],
             ["colon_space"]),
            (5, "What is the name of Priya's greyhound?", "Rocket", ["rocket"], []),
            (5, "Which magazine featured Priya's pottery?", "A photography magazine",
             ["magazine"], []),
            (5, "Why did Priya move to Edinburgh?", "Ana's research job", ["move"], []),
            (5, "What is the name of Marcus's sister?", "Dev", [], ["junk"]),
        ],
    },
    {
        "sample_id": "synthetic-3",
        "speakers": ("Kenji", "Sofia"),
        "sessions": [
            ("9:30 am on 4 January, 2024", [
                [(0, "The ramen shop turned two this week, we celebrated by giving out free "
                     "bowls of tonkotsu to regulars.", "shop"),
                 (1, "Two years already! Is it still just you and your cousin?", None),
                 (0, "Yes, Hiro does the broth and I do everything else.", "hiro")],
                [(1, "I'm in the third year of my PhD in marine biology at Dalhousie, studying "
                     "how warming water affects lobsters.", "phd"),
                 (0, "Lobsters! Do you get to eat the research?", None),
                 (1, "Sadly no, they all go back into the ocean.", None)],
                [(0, "Mochi, my tortoise, is hibernating in a box in the fridge drawer, the "
                     "vet said it's the safest way.", "mochi"),
                 (1, "A tortoise in the fridge is the strangest thing I've heard all week.",
                  None)],
                [(1, "For the new year I bought a secondhand acoustic guitar and I'm learning "
                     "from videos.", "guitar"),
                 (0, "Play me something when you can.", None)],
            ]),
            ("5:50 pm on 18 February, 2024", [
                [(0, "I started bouldering at a climbing gym near Commercial Drive, three "
                     "evenings a week.", "climbing"),
                 (1, "Your forearms must be burning.", None),
                 (0, "I can barely hold chopsticks the next morning.", None)],
                [(1, "My paper on lobster larvae got accepted at a conference in Lisbon in "
                     "June.", "conference"),
                 (0, "Amazing, your first big talk abroad?", None),
                 (1, "Yes, I'm terrified and thrilled.", None)],
                [(0, "A food critic from the Vancouver Sun reviewed the shop and gave us four "
                     "stars.", "review"),
                 (1, "Four stars! Frame that review.", None)],
                [(1, "My sister Ines is getting married in Porto in September and I'm the "
                     "maid of honour.", "wedding"),
                 (0, "Congratulations to her! Are you writing a speech?", None)],
            ]),
            ("2:10 pm on 7 April, 2024", [
                [(0, "Mochi woke up from hibernation and immediately ate half a "
                     "strawberry.", "mochi_wake"),
                 (1, "Best alarm clock ever.", None)],
                [(1, "I joined the university sailing club and took my first dinghy out in "
                     "the harbour.", "sailing"),
                 (0, "Did you capsize?", None),
                 (1, "Twice, and the water was four degrees.", "capsize")],
                [(0, "We're adding a vegan miso ramen to the menu because so many customers "
                     "asked.", "vegan"),
                 (1, "Finally, something my vegan lab mates can eat with me.", None)],
                [(1, "I can play three chords on the guitar now, enough for a very slow "
                     "version of a Beatles song.", "chords"),
                 (0, "That's how every band starts.", None)],
            ]),
            ("7:25 pm on 30 June, 2024", [
                [(1, "The Lisbon talk went well, and a professor from Bergen asked me to "
                     "apply for a postdoc in Norway.", "postdoc"),
                 (0, "That could be huge, would you move to Norway?", None),
                 (1, "Maybe, if I can survive the winters.", None)],
                [(0, "I sprained my ankle falling off a bouldering wall, so I'm on crutches "
                     "for three weeks.", "ankle"),
                 (1, "Ouch! Who's running the shop?", None),
                 (0, "Hiro, with a lot of complaining.", None)],
                [(1, "While in Lisbon I ate about twenty custard tarts, no regrets.", None),
                 (0, "Research fuel.", None)],
                [(0, "We're opening a second location in Victoria next spring.",
                  "second_shop"),
                 (1, "Look at you, ramen empire!", None)],
            ]),
            ("11:00 am on 15 September, 2024", [
                [(1, "Ines's wedding in Porto was beautiful, and my speech made half the "
                     "guests cry.", "wedding_done"),
                 (0, "Good tears, I hope!", None)],
                [(1, "I got the postdoc in Bergen, I start in January.", "postdoc_yes"),
                 (0, "Congratulations! Norway is lucky.", None)],
                [(0, "The ankle has healed and I'm back on the climbing wall, but only easy "
                     "routes for now.", "ankle_healed"),
                 (1, "Take it slow, please.", None)],
                [(0, "Mochi escaped into the garden and we found him two days later under "
                     "the blueberry bush.", "escape"),
                 (1, "A tortoise escape! How far did he get?", None),
                 (0, "About four metres.", None)],
            ]),
        ],
        "questions": [
            (4, "What kind of pet does Kenji keep?", "A tortoise named Mochi", ["mochi"], []),
            (4, "What is Sofia researching?", "How warming water affects lobsters",
             ["phd"], []),
            (4, "Who cooks the soup base at Kenji's restaurant?", "His cousin Hiro",
             ["hiro"], []),
            (4, "Where was Sofia's sister's wedding held?", "Porto", ["wedding"], []),
            (4, "What rating did the newspaper give Kenji's noodle bar?", "Four stars",
             ["review"], []),
            (4, "What new plant-based dish did Kenji add?", "Vegan miso ramen", ["vegan"], []),
            (1, "Where will Sofia work after her doctorate, and how did that come about?",
             "A postdoc in Bergen, offered after her Lisbon talk",
             ["postdoc", "postdoc_yes"], ["joined_space"]),
            (1, "What injury did Kenji have, and is he climbing again?",
             "A sprained ankle; he is back on easy routes", ["ankle", "ankle_healed"],
             ["comma"]),
            (1, "How is Kenji's restaurant business growing?",
             "Two years old, and a second location in Victoria", ["shop", "second_shop"],
             []),
            (1, "What unusual things has Kenji's reptile done?",
             "Hibernated in the fridge and escaped into the garden", ["mochi", "escape"],
             ["space", "junk"]),
            (2, "When did Kenji open his ramen shop?", "Around January 2022", ["shop"], []),
            (2, "When is Sofia presenting in Portugal?", "June 2024", ["conference"], []),
            (2, "When does Sofia's new job in Norway begin?", "January 2025",
             ["postdoc_yes"], ["lower_punct"]),
            (2, "When did Mochi wake up?", "Early April 2024", ["mochi_wake"],
             ["colon_space"]),
            (3, "Is Sofia comfortable in cold water?",
             "Probably, she kept sailing after capsizing twice in four-degree water",
             ["sailing", "capsize"], []),
            (3, "Would a friend who avoids animal products find something to eat at Kenji's "
                "shop?", "Yes, the vegan miso ramen", ["vegan"], []),
            (3, "Is Sofia an experienced musician?", "No, she is a beginner on guitar",
             ["guitar", "chords"], []),
            (5, "What is the name of Sofia's tortoise?", "Mochi", ["mochi"], []),
            (5, "When did Kenji sprain his wrist sailing?", "June 2024", ["ankle"], []),
            (5, "Where is Kenji's sister getting married?", "Porto", ["wedding"], []),
            (5, "What did Kenji study for his PhD?", "Lobsters", ["phd"], ["missing"]),
        ],
    },
]
# fmt: on


def _malform(ids: list[str], styles: list[str]) -> list[str]:
    """Write evidence ids the ways real LoCoMo files sometimes do."""
    evidence = list(ids)
    for style in styles:
        if style == "space":
            evidence[0] = evidence[0].replace("D", "D ")
        elif style == "colon_space":
            evidence[0] = evidence[0].replace(":", ": ")
        elif style == "lower_punct":
            evidence[0] = evidence[0].lower() + "."
        elif style == "joined_semicolon":
            evidence = ["; ".join(evidence)]
        elif style == "joined_space":
            evidence = [" ".join(evidence)]
        elif style == "comma":
            evidence = [",".join(evidence)]
        elif style == "missing":
            evidence.append("D9:99")  # parses, but no such turn
        elif style == "junk":
            evidence.append("see above")
        else:
            raise ValueError(f"unknown malformation {style!r}")
    return evidence


def build_sample(spec: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Turn one sample spec into LoCoMo JSON (conversation, qa and the ignorable extras)."""
    names = spec["speakers"]
    conversation: dict[str, Any] = {"speaker_a": names[0], "speaker_b": names[1]}
    fact_ids: dict[str, str] = {}
    for number, (date, topics) in enumerate(spec["sessions"], start=1):
        opener = (number + 1) % 2
        turns: list[tuple[int, str, str | None]] = [
            (opener, rng.choice(GREETINGS).format(other=names[1 - opener]), None),
            (1 - opener, rng.choice(REPLIES), None),
        ]
        for topic in topics:
            turns.extend(topic)
        turns.append((1 - turns[-1][0], rng.choice(CLOSINGS), None))
        session = []
        for position, (speaker, text, fact) in enumerate(turns, start=1):
            dia_id = f"D{number}:{position}"
            if fact is not None:
                if fact in fact_ids:
                    raise ValueError(f"fact {fact!r} used twice in {spec['sample_id']}")
                fact_ids[fact] = dia_id
            session.append({"speaker": names[speaker], "dia_id": dia_id, "text": text})
        conversation[f"session_{number}_date_time"] = date
        conversation[f"session_{number}"] = session
    # One image turn, as real files have, whose extra keys the loader must ignore.
    conversation["session_1"][-1] |= {
        "img_url": ["https://example.invalid/photo.jpg"],
        "blip_caption": "a photo of a cup of coffee",
    }
    qa = []
    for category, question, answer, facts, styles in spec["questions"]:
        entry: dict[str, Any] = {
            "question": question,
            "evidence": _malform([fact_ids[fact] for fact in facts], styles),
            "category": category,
        }
        entry["adversarial_answer" if category == 5 else "answer"] = answer
        qa.append(entry)
    return {
        "sample_id": spec["sample_id"],
        "conversation": conversation,
        "qa": qa,
        "event_summary": {},
        "observation": {},
        "session_summary": {"session_1_summary": f"{names[0]} and {names[1]} catch up."},
    }


def main() -> None:
    """Write the synthetic file next to this script."""
    rng = random.Random(SEED)
    samples = [build_sample(spec, rng) for spec in SAMPLES]
    OUTPUT.write_text(json.dumps(samples, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes, {len(samples)} samples)")


if __name__ == "__main__":
    main()
