"""Scratch cards and wheels: the server draws, the page only reveals what was drawn.

A play, in one transaction: the player's plays today (a conditional increment of a per-day row:
never past the limit, under any concurrency), a draw of 0..9999 from the system's cryptographic
source (`secrets`), the prize whose odds band holds the draw, its stock (a conditional increment
of `won`, checked by the database too: never past the stock), and the prize coupon, issued as a
claim. A drawn prize whose stock is gone, or whose coupon the player already holds, wins nothing
(and says so in the audit), and so does one whose campaign's audience leaves the player out. Every
play is recorded. An Idempotency-Key answers a retry alike. A prize may be a coupon sold for points:
a game is another way to get it, decided by whoever sets the game up.
"""

import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import distinct, func, select, update
from sqlalchemy.orm import Session

from lbs_service.auth import Principal
from lbs_service.errors import Forbidden, InvalidInput, NotFound
from lbs_service.hours import parse_timezone
from lbs_service.o2o.audiences import require_audience
from lbs_service.o2o.campaigns import belongs_to_merchant
from lbs_service.o2o.coupons import issue
from lbs_service.o2o.idempotency import Outcome, problem_outcome, request_hash, run_once
from lbs_service.responses import GameAudit, GamePrizePublic, GamePublic, PlayCounts, PrizeStock
from lbs_service.storage.db import Database, session_insert
from lbs_service.storage.models import Campaign, Coupon, Game, GamePlay, GamePlayDay, GamePrize, Store

ODDS_SCALE = 10_000  # odds in basis points: what the prizes leave is "no prize"
OUTCOMES = ("prize", "none", "out_of_stock", "held", "not_eligible")
Draw = Callable[[int], int]


@dataclass(frozen=True)
class NewPrize:
    campaign_id: int
    odds_bp: int
    stock: int


@dataclass(frozen=True)
class NewGame:
    title: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    plays_per_user_per_day: int
    prizes: tuple[NewPrize, ...]
    merchant_id: int | None = None
    store_ids: tuple[int, ...] | None = None
    timezone: str = "Asia/Shanghai"


def _check_owner(session: Session, principal: Principal, new: NewGame) -> None:
    """The operator runs any game; a merchant only its own, on its own stores, with its own prizes."""
    if principal.role == "operator":
        return
    if principal.role != "merchant" or principal.merchant_id is None or new.merchant_id != principal.merchant_id:
        raise Forbidden("games are run by the operator, or by a merchant for its own stores")
    if new.store_ids:
        owners = set(session.scalars(select(Store.merchant_id).where(Store.id.in_(new.store_ids))))
        if owners != {principal.merchant_id}:
            raise Forbidden("a merchant's game runs on its own stores")
    prizes = session.scalars(select(Campaign).where(Campaign.id.in_([p.campaign_id for p in new.prizes])))
    if not all(belongs_to_merchant(session, campaign, principal.merchant_id) for campaign in prizes):
        raise Forbidden("a merchant's game gives its own campaigns' coupons")


def create(db: Database, principal: Principal, new: NewGame) -> int:
    if sum(p.odds_bp for p in new.prizes) > ODDS_SCALE:
        raise InvalidInput(f"prize odds add up to more than {ODDS_SCALE} basis points")
    with db.transaction() as session:
        wanted = {p.campaign_id for p in new.prizes}
        found = set(session.scalars(select(Campaign.id).where(Campaign.id.in_(wanted))))
        if found != wanted:
            if principal.role != "operator":  # to a merchant, a missing campaign is as not-theirs as another's
                raise Forbidden("a merchant's game gives its own campaigns' coupons")
            raise InvalidInput(f"no such campaigns: {sorted(wanted - found)[:10]}")
        if new.store_ids:
            stores = set(session.scalars(select(Store.id).where(Store.id.in_(new.store_ids))))
            if stores != set(new.store_ids):
                raise InvalidInput(f"no such stores: {sorted(set(new.store_ids) - stores)[:10]}")
        _check_owner(session, principal, new)
        game = Game(title=new.title, kind=new.kind, merchant_id=new.merchant_id,
                    store_ids=sorted(new.store_ids) if new.store_ids else None, starts_at=new.starts_at,
                    ends_at=new.ends_at, plays_per_user_per_day=new.plays_per_user_per_day, timezone=new.timezone,
                    created_by=f"{principal.role}:{principal.subject}")
        session.add(game)
        session.flush()
        session.add_all(GamePrize(game_id=game.id, campaign_id=p.campaign_id, odds_bp=p.odds_bp, stock=p.stock,
                                  won=0) for p in new.prizes)
        return game.id


def pick(prizes: Sequence[GamePrize], draw_bp: int) -> GamePrize | None:
    """The prize whose band of the odds holds the draw: prize i wins draws in
    [sum of the odds before it, that sum + its odds); above every band, nothing."""
    floor = 0
    for prize in prizes:
        if floor <= draw_bp < floor + prize.odds_bp:
            return prize
        floor += prize.odds_bp
    return None


def _take_a_play(session: Session, game: Game, user_id: str, now: datetime) -> bool:
    day = now.astimezone(parse_timezone(game.timezone)).date().isoformat()
    session.execute(session_insert(session)(GamePlayDay).values(game_id=game.id, user_id=user_id, day=day, plays=0)
                    .on_conflict_do_nothing())
    taken: int = session.execute(update(GamePlayDay).where(
        GamePlayDay.game_id == game.id, GamePlayDay.user_id == user_id, GamePlayDay.day == day,
        GamePlayDay.plays < game.plays_per_user_per_day).values(plays=GamePlayDay.plays + 1)
    ).rowcount  # type: ignore[attr-defined]
    return taken == 1


def _play(session: Session, game_id: int, user_id: str, now: datetime, draw: Draw, tiers: dict[str, int]) -> Outcome:
    game = session.get(Game, game_id)
    if game is None:
        return problem_outcome(404, "Not found", f"no game with id {game_id}")
    if not (game.starts_at <= now < game.ends_at):
        return problem_outcome(409, "Conflict", "this game is not running")
    if not _take_a_play(session, game, user_id, now):
        return problem_outcome(409, "Conflict", f"you have played {game.plays_per_user_per_day} times today")
    draw_bp = draw(ODDS_SCALE)
    prizes = list(session.scalars(select(GamePrize).where(GamePrize.game_id == game.id).order_by(GamePrize.id)))
    prize, coupon, outcome = pick(prizes, draw_bp), None, "none"
    if prize is not None:
        outcome = _award(session, prize, user_id, now, tiers)
        if outcome == "prize":
            coupon = issue(session, prize.campaign_id, user_id, now, source="game")
    play = GamePlay(game_id=game.id, user_id=user_id, draw_bp=draw_bp, prize_id=prize.id if prize else None,
                    coupon_id=coupon.id if coupon else None, outcome=outcome, played_at=now)
    session.add(play)
    session.flush()
    won = None if coupon is None or prize is None else {
        "campaign_id": prize.campaign_id, "coupon": {"id": coupon.id, "code": coupon.code}}
    return Outcome(201, {"play_id": play.id, "outcome": outcome, "prize": won})


def _award(session: Session, prize: GamePrize, user_id: str, now: datetime, tiers: dict[str, int]) -> str:
    """Whether the drawn prize can be given: "prize", or why not ("held", "not_eligible": the prize
    campaign's audience leaves the player out, "out_of_stock")."""
    if session.scalar(select(Coupon.id).where(Coupon.campaign_id == prize.campaign_id, Coupon.user_id == user_id)):
        return "held"
    campaign = session.get(Campaign, prize.campaign_id)
    if campaign is None or not (campaign.starts_at <= now < campaign.ends_at) or (
            campaign.budget is not None and campaign.claimed >= campaign.budget):
        return "out_of_stock"
    try:
        require_audience(session, campaign.audience, user_id, now, tiers)
    except Forbidden:
        return "not_eligible"
    taken = session.execute(update(GamePrize).where(GamePrize.id == prize.id, GamePrize.won < GamePrize.stock)
                            .values(won=GamePrize.won + 1)).rowcount  # type: ignore[attr-defined]
    return "prize" if taken == 1 else "out_of_stock"


def play(db: Database, game_id: int, user_id: str, key: str | None, now: datetime, tiers: dict[str, int],
         draw: Draw = secrets.randbelow) -> Outcome:
    """One play. A race lost after the draw (the prize's coupon taken at that instant by a claim of the
    same campaign) rolls the play back and answers 409: nothing was spent, the player may play again."""
    return run_once(db, f"play:{game_id}:{user_id}", key, request_hash(game_id),
                    lambda session: _play(session, game_id, user_id, now, draw, tiers))


def _owned_game(session: Session, principal: Principal, game_id: int) -> Game:
    game = session.get(Game, game_id)
    owner = game is not None and (principal.role == "operator" or (
        principal.role == "merchant" and game.merchant_id is not None and game.merchant_id == principal.merchant_id))
    if game is None or not owner:
        raise NotFound(f"no game {game_id} of yours")
    return game


def audit(db: Database, principal: Principal, game_id: int) -> GameAudit:
    """For the game's owner: every play counted by outcome, and each prize's stock left."""
    with db.session() as session:
        game = _owned_game(session, principal, game_id)
        outcomes = Counter(session.scalars(select(GamePlay.outcome).where(GamePlay.game_id == game.id)))
        players = session.scalar(select(func.count(distinct(GamePlay.user_id))).where(GamePlay.game_id == game.id))
        prizes = list(session.scalars(select(GamePrize).where(GamePrize.game_id == game.id).order_by(GamePrize.id)))
    return GameAudit(game_id=game.id, plays=sum(outcomes.values()), players=players or 0,
                     by_outcome=PlayCounts(**{name: outcomes.get(name, 0) for name in OUTCOMES}),
                     prizes=[PrizeStock(prize_id=p.id, campaign_id=p.campaign_id, odds_bp=p.odds_bp, stock=p.stock,
                                        won=p.won, left=p.stock - p.won) for p in prizes])


def running_games(db: Database, at: datetime, store_id: int | None, merchant_of: int | None) -> list[GamePublic]:
    """Games running at `at` (at a store: those that apply there), for the finder."""
    with db.session() as session:
        games = list(session.scalars(select(Game).where(Game.starts_at <= at, Game.ends_at > at).order_by(Game.id)))
        prizes = session.execute(select(GamePrize.game_id, GamePrize.campaign_id, GamePrize.odds_bp, Campaign.title)
                                 .join(Campaign, Campaign.id == GamePrize.campaign_id)
                                 .where(GamePrize.game_id.in_([g.id for g in games])).order_by(GamePrize.id)).all()
    by_game: dict[int, list[GamePrizePublic]] = {}
    for game_id, campaign_id, odds, title in prizes:
        by_game.setdefault(game_id, []).append(GamePrizePublic(campaign_id=campaign_id, title=title, odds_bp=odds))

    def applies(game: Game) -> bool:
        if store_id is None:
            return True
        if game.store_ids:
            return store_id in game.store_ids
        return game.merchant_id is None or game.merchant_id == merchant_of

    return [GamePublic(id=g.id, title=g.title, kind=g.kind, merchant_id=g.merchant_id, store_ids=g.store_ids,
                       starts_at=g.starts_at.isoformat(), ends_at=g.ends_at.isoformat(),
                       plays_per_user_per_day=g.plays_per_user_per_day, prizes=by_game.get(g.id, []))
            for g in games if applies(g)]
