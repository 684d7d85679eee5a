"""The daily storage sweep (seed: "Goods Storage Period").

- Reminders before the deadline (default 7 and 1 days, REMINDER_DAYS): one email per customer, deadline
  day and threshold (up to REMINDER_BATCH items each), listing their items at that threshold; each item
  reminded at most once per threshold; never a late reminder for an item already past its deadline.
  The items' marks and the email (an outbox event, sent by app.outbox_events) are one transaction, so
  a reminder is recorded exactly when its email is owed, whatever SES does. A deadline that comes back
  onto a day a window already read (an item's clock resuming after a package or an after-sales hold)
  is marked by its writer (chalicelib/storage.py reread_reminders) and read again at the next run: a
  reminder still owed is sent then, late, rather than never.
- Items still stored past their deadline with no package: `abandoned`, onto the destruction queue,
  no email. Exceptional parcels past their 30 days: the same. Items in a package have no deadline entry
  and are never touched; a package left unpaid past its payment deadline expires (cancelled, its items
  back on the shelf with their deadlines, the customer emailed), read from the packages' own deadline
  index by the same day walk; so does a packed package whose customer did not answer (a packing
  difference to pay, a rehearsal to confirm) by its deadline: back to storage, refunded, emailed.
- Answer reminders for packed packages waiting on the customer (PACKING_ANSWER_REMINDER_DAYS): the
  packages' deadline index from today to the longest threshold ahead, once per package and threshold.
- Items waiting on the customer's feedback (an inspection issue, an electronics confirmation): a reminder
  FEEDBACK_REMINDER_DAYS before the feedback deadline, and with no answer by then the item is taken as
  accepted and In Warehouse ("assume agreed", chalicelib/feedback.py), read from `Item.by_feedback_due`
  by the same kind of day walk with its own checkpoint. A replacement offer's answer deadline is on the
  same index: a reminder REPLACEMENT_REMINDER_DAYS before, and with no answer the offer is declined for
  the customer, the item cancelled and refunded (chalicelib/replacement_deadline.py).

Cost follows what is due: deadlines live in a sparse index keyed `<UTC day>#<shard>`; a run queries only
the days that entered a window since the last run (a checkpoint per window), so reads grow with the
items due, not with everything in storage. Days missed by skipped runs are caught up. The checkpoint
advances only after a day is done; a run that nears the Lambda time limit stops between days and the
next run continues. Every action is an idempotent conditional write, so a rerun after a crash redoes
nothing twice.

Time travel (`make job JOB=storage_sweep NOW=<a future day>`, which sets the clock with travel=True)
acts on what is due at NOW, but no checkpoint reaches past what a run at the real time would have
finished (yesterday for abandonment, today + N for the N-day reminders; clock.wall()): one written
further ahead, or left there by an older run, is not trusted. The local stack keeps writing at the
real time, so its new deadlines land on days after the real checkpoint and a later run (at NOW or at
the real time) still reads them. In AWS nothing travels and clock.wall() is now(), so the bound is the
one the walk already had: no extra read or write, each day read once; tests that freeze the clock
move the bound with it. A repeated travelling run re-reads the days past the bound (a cost only a
developer's stack pays); what it finds again is already marked or moved, so nothing is redone.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from chalicelib import clock, config, db, lifecycle, metrics, uow
from chalicelib.errors import Conflict
from chalicelib.logs import get_logger
from chalicelib.models.commerce import Item, RequestRecord
from chalicelib.models.jobs import JobState
from chalicelib.models.packages import Package
from chalicelib.models.warehouse import Parcel
from chalicelib.rules import storage as storage_rules

log = get_logger("jobs.storage_sweep")

JOB = "storage_sweep"
STOP_WHEN_REMAINING_MS = 60_000
MAX_ABANDON_ATTEMPTS = 4
FIRST_RUN_LOOKBACK_DAYS = 30
REMINDER_BATCH = 99  # items per reminder email: their marks and the email event fill one transaction (100)


def reminder_days() -> list[int]:
    return storage_rules.reminder_days(config.setting("REMINDER_DAYS"))


class OutOfTime(Exception):
    """Raised between days when the Lambda is about to time out; the checkpoint keeps the progress."""


class Sweep:
    def __init__(self, now: datetime, context=None):
        self.now = now
        self.now_iso = clock.iso(now)
        self.today = now.date()
        self.wall_today = clock.wall().date()  # checkpoints never reach past it (see the docstring)
        self.context = context
        self.stats: dict[str, int] = defaultdict(int)
        self.day_incomplete = False
        try:
            self.job = JobState.get(JOB, consistent_read=True)
        except JobState.DoesNotExist:
            self.job = JobState(JOB, state={})
        self.state = self.job.state.as_dict() if hasattr(self.job.state, "as_dict") else dict(self.job.state)

    # --- checkpoints ------------------------------------------------------------------------------------

    def _ceiling(self, key: str) -> date:
        """The furthest day checkpoint `key` may claim: what a run at the wall clock would have finished."""
        if key.startswith("reminded_through_"):
            return self.wall_today + timedelta(days=int(key.removeprefix("reminded_through_")))
        return self.wall_today - timedelta(days=1)

    def _day(self, key: str, default: date) -> date:
        value = self.state.get(key)
        return min(date.fromisoformat(value), self._ceiling(key)) if value else default

    def _save(self, key: str, day: date) -> None:
        value = min(day, self._ceiling(key)).isoformat()
        if self.state.get(key) == value:
            return  # a run ahead of the wall clock: its checkpoint stays where the wall clock allows
        self.state[key] = value
        self.job.state = self.state
        self.job.updated_at = clock.now_iso()
        self.job.save()

    def _check_time(self) -> None:
        if self.context is not None and self.context.get_remaining_time_in_millis() < STOP_WHEN_REMAINING_MS:
            raise OutOfTime

    # --- reading the deadline index -----------------------------------------------------------------------

    def _query(self, model, day: date, up_to_now: bool, due_attribute=None):
        due = due_attribute if due_attribute is not None else model.storage_expires_at
        for shard in range(storage_rules.DEADLINE_SHARDS):
            key = f"{day.isoformat()}#{shard}"
            condition = due <= self.now_iso if up_to_now else None
            rows = model.by_deadline.query(key, condition, page_size=200)
            # keys only for items and packages: their records by key, those still on this day
            for row in db.queried(model, model.by_deadline, key, rows):
                self.stats["read"] += 1
                yield row

    # --- abandonment ------------------------------------------------------------------------------------

    def abandon(self) -> None:
        first = self._day("abandon_done_through", self.today - timedelta(days=FIRST_RUN_LOOKBACK_DAYS))
        day = first + timedelta(days=1)
        while day <= self.today:
            self._check_time()
            self.day_incomplete = False
            whole_day = day < self.today
            for item in self._query(Item, day, up_to_now=not whole_day):
                self._abandon_item(item)
            for parcel in self._query(Parcel, day, up_to_now=not whole_day):
                self._abandon_parcel(parcel)
            for package in self._query(Package, day, not whole_day, Package.payment_due_at):
                self._expire_package(package)
            if self.day_incomplete:
                break  # the checkpoint stays before this day: the next run reads it again
            if whole_day:
                self._save("abandon_done_through", day)
                metrics.count("SweepDaysCaughtUp")
            day += timedelta(days=1)

    def _abandon_item(self, item: Item) -> None:
        """Abandon a stored item past its deadline. A lost race re-reads the item and decides again, so an
        item changed meanwhile (packaged, extended, under after-sales, or only re-marked by a reminder) is
        either left alone for a reason or abandoned: never skipped while still due."""
        for _attempt in range(MAX_ABANDON_ATTEMPTS):
            expires = item.storage_expires_at
            if item.status not in lifecycle.CLOCK_RUNNING or not expires or expires > self.now_iso:
                self.stats["skipped_changed"] += 1
                return
            if item.open_case_id:  # the customer's feedback is open with staff: not abandoned meanwhile
                self.stats["held_by_after_sales"] += 1
                return
            when = (Item.storage_expires_at == expires) & Item.open_case_id.does_not_exist()
            also = [Item.deadline_key.remove()]
            if item.photo_request_id:  # paid extra photos never taken: refunded with the abandonment
                if self._abandon_with_refund(item, also, when):
                    return
            else:
                move = lifecycle.ITEM.move(
                    item,
                    "abandon",
                    now=self.now_iso,
                    source=item.status,
                    also=also,
                    when=when & Item.photo_request_id.does_not_exist(),
                )
                if db.update_if(item, *move):
                    self.stats["items_abandoned"] += 1
                    return
            try:
                item = Item.get(item.item_id, consistent_read=True)
            except Item.DoesNotExist:
                return
        # still racing after several tries: keep this day open so the next run reads it again
        self.stats["abandon_retried_later"] += 1
        self.day_incomplete = True

    def _abandon_with_refund(self, item: Item, also: list, when) -> bool:
        """Abandon the item and refund its open photo request in one transaction; False on a lost race."""
        from chalicelib import photo_requests
        from chalicelib.errors import Conflict

        work = uow.Unit()
        refund, unchanged = photo_requests.refund_on_exit(work, item, "its storage period ended")
        move = lifecycle.ITEM.move(
            item,
            "abandon",
            now=self.now_iso,
            source=item.status,
            also=[*also, *refund],
            when=when & unchanged,
        )
        work.update(item, *move)
        try:
            uow.run(lambda: work, retry=False)
        except Conflict:
            return False
        self.stats["items_abandoned"] += 1
        return True

    def _expire_package(self, package: Package) -> None:
        from chalicelib import packages

        if lifecycle.PACKAGE.allows("return_unanswered", package.status):
            self._return_unanswered(package)
            return
        if not lifecycle.PACKAGE.allows("expire", package.status):
            return
        self.stats["packages_expired" if packages.expire(package) else "skipped_changed"] += 1

    # --- packed packages waiting on the customer (issue 24) ------------------------------------------------

    def _return_unanswered(self, package: Package) -> None:
        from chalicelib import packages

        returned = packages.return_unanswered(package)
        self.stats["packages_returned_unanswered" if returned else "skipped_changed"] += 1

    def remind_packages(self) -> None:
        """Answer reminders for packed packages waiting on the customer (PACKING_ANSWER_REMINDER_DAYS).

        Reads the deadline index's days from today to the longest threshold ahead on every run (a fixed
        number of Queries: 8 shards a day): a reminder is owed only while the deadline is ahead, and the
        mark on the package makes a re-read send nothing twice, so no checkpoint is needed."""
        from chalicelib import packages

        thresholds = storage_rules.reminder_days(config.setting("PACKING_ANSWER_REMINDER_DAYS"))
        if not thresholds:
            return
        for offset in range(max(thresholds) + 1):
            self._check_time()
            day = self.today + timedelta(days=offset)
            for package in self._query(Package, day, False, Package.payment_due_at):
                if packages.remind_answer(package, thresholds, self.now):
                    self.stats["package_answer_reminders"] += 1

    def _abandon_parcel(self, parcel: Parcel) -> None:
        if (
            not lifecycle.PARCEL.allows("abandon", parcel.status)
            or (parcel.storage_expires_at or "") > self.now_iso
        ):
            return
        also = [Parcel.deadline_key.remove()]
        abandoned = db.update_if(
            parcel, *lifecycle.PARCEL.move(parcel, "abandon", now=self.now_iso, also=also)
        )
        self.stats["parcels_abandoned" if abandoned else "skipped_changed"] += 1

    # --- feedback deadlines (chalicelib/feedback.py) ------------------------------------------------------

    def feedback(self) -> None:
        """Walk the feedback index from the day after its checkpoint to today + the reminder lead: remind
        what is within it, take as accepted what is past its deadline. Days before today are checkpointed
        once every item on them is settled; today and the days ahead are read again by every run."""
        from chalicelib import feedback, replacement_deadline

        key = "feedback_done_through"
        day = self._day(key, self.today - timedelta(days=FIRST_RUN_LOOKBACK_DAYS)) + timedelta(days=1)
        lead = max(feedback.reminder_days(), replacement_deadline.reminder_days())
        last = self.today + timedelta(days=lead)
        settled = True  # every day so far is done: the checkpoint may follow
        while day <= last:
            self._check_time()
            for shard in range(storage_rules.DEADLINE_SHARDS):
                for item in Item.by_feedback_due.query(f"{day.isoformat()}#{shard}", page_size=200):
                    self.stats["feedback_read"] += 1
                    if replacement_deadline.waits_on_offer(item):  # a replacement offer's answer deadline
                        outcome = replacement_deadline.settle_offer_due(item, self.now)
                        self.stats[f"replacement_{outcome}"] += 1
                    else:
                        outcome = feedback.settle_due(item, self.now)
                        self.stats[f"feedback_{outcome}"] += 1
                    settled &= outcome != "raced"
            if settled and day < self.today:
                self._save(key, day)
            day += timedelta(days=1)

    # --- reminders ------------------------------------------------------------------------------------

    def remind(self) -> None:
        thresholds = reminder_days()
        if not thresholds:
            return
        # the days each threshold's window gained since its last run
        wanted: dict[date, list[int]] = defaultdict(list)
        for n in thresholds:
            # a first run covers everything from today on; later runs only the days new to the window
            start = self._day(f"reminded_through_{n}", self.today - timedelta(days=1)) + timedelta(days=1)
            day = start
            while day <= self.today + timedelta(days=n):
                wanted[day].append(n)
                day += timedelta(days=1)
        # days a resumed clock put back in a window that already read them (chalicelib/storage.py marks them)
        reread = self._reread_marks(thresholds)
        for day in reread:
            wanted.setdefault(day, [])
        held: set[int] = set()  # thresholds whose checkpoint stays put: a reminder there was deferred
        for day in sorted(wanted):
            self._check_time()
            batches: dict[tuple[str, int], list[tuple[Item, list[int]]]] = defaultdict(list)
            for item in self._query(Item, day, up_to_now=False):
                due = self._due_thresholds(item, thresholds)
                if due:
                    batches[(item.user_id, due[0])].append((item, due))
            deferred = False
            for (user_id, threshold), entries in batches.items():
                deferred |= not self._send_batch(user_id, threshold, entries)
            if deferred:  # re-read this day next run so the deferred reminder is sent then
                held.update(wanted[day])
            elif day in reread:
                self._clear_mark(reread[day])
            for n in wanted[day]:
                if n not in held and day > self._day(f"reminded_through_{n}", date.min):
                    self._save(f"reminded_through_{n}", day)

    def _reread_marks(self, thresholds: list[int]) -> dict[date, RequestRecord]:
        """The marked days from today to the longest threshold ahead (one BatchGetItem)."""
        days = [self.today + timedelta(days=n) for n in range(max(thresholds) + 1)]
        keys = {day: (storage_rules.REREAD_PREFIX + day.isoformat(),) for day in days}
        found = db.batch_read([(RequestRecord, key) for key in keys.values()])
        return {day: found[(RequestRecord, k)] for day, k in keys.items() if (RequestRecord, k) in found}

    def _clear_mark(self, mark: RequestRecord) -> None:
        """Done with a marked day; a mark written again meanwhile (another resumed clock) stays."""
        try:
            mark.delete(condition=RequestRecord.created_at == mark.created_at)
        except Exception as exc:
            if not db.lost_race(exc):
                raise
        self.stats["reminder_days_reread"] += 1

    def _due_thresholds(self, item: Item, thresholds: list[int]) -> list[int]:
        """The thresholds this item is within, most urgent first; [] if none is owed now."""
        if item.status not in lifecycle.CLOCK_RUNNING or not item.storage_expires_at:
            return []
        if item.storage_expires_at <= self.now_iso:
            return []  # no late reminders: the deadline has passed
        expiry_day = clock.parse_iso(item.storage_expires_at).date()
        within = [n for n in thresholds if expiry_day <= self.today + timedelta(days=n)]
        if not within:
            return []
        marks = item.reminders.as_dict() if hasattr(item.reminders, "as_dict") else dict(item.reminders or {})
        mark = marks.get(str(within[0]), "")
        if mark.startswith("sent:"):
            return []
        if mark.startswith("pending:") and self._batch_done(mark.removeprefix("pending:")):
            self._mark(item, within, mark, "sent:" + self.now_iso)  # sent before a crash: just record it
            return []
        return within

    def _batch_done(self, batch_id: str) -> bool:
        try:
            return RequestRecord.get(f"reminder#{batch_id}", consistent_read=True).state == "done"
        except RequestRecord.DoesNotExist:
            return False

    def _mark(self, item: Item, thresholds: list[int], expected: str | None, value: str | None) -> bool:
        """Set (or with value None, clear) the item's reminder marks, if its mark is still `expected`."""
        head = Item.reminders[str(thresholds[0])]
        condition = head.does_not_exist() if expected is None else head == expected
        actions = [
            Item.reminders[str(n)].set(value) if value is not None else Item.reminders[str(n)].remove()
            for n in thresholds
        ]
        return db.update_if(item, actions, condition & lifecycle.ITEM.check(Item, item.status))

    def _send_batch(self, user_id: str, threshold: int, entries: list[tuple[Item, list[int]]]) -> bool:
        """Mark the items reminded and write the reminder email (an outbox event) in one transaction,
        REMINDER_BATCH items per email. False if it kept losing races (left for the next run)."""
        for start in range(0, len(entries), REMINDER_BATCH):
            chunk = entries[start : start + REMINDER_BATCH]
            try:
                count = uow.run(self._reminder_unit(user_id, threshold, chunk))
            except Conflict:
                self.stats["reminders_deferred"] += len(chunk)
                return False
            if count:
                self.stats["reminder_emails"] += 1
                self.stats[f"items_reminded_{threshold}d"] += count
        return True

    def _reminder_unit(self, user_id: str, threshold: int, chunk: list[tuple[Item, list[int]]]):
        attempts = []

        def build() -> uow.Unit:
            current = chunk
            if attempts:  # a lost race: decide again from fresh reads
                current = []
                for item, _ in chunk:
                    fresh = _reread(item.item_id)
                    due = self._due_thresholds(fresh, reminder_days()) if fresh is not None else []
                    if due and due[0] == threshold:
                        current.append((fresh, due))
            attempts.append(1)
            work = uow.Unit(result=len(current))
            sent = "sent:" + self.now_iso
            for item, due in current:
                head = Item.reminders[str(due[0])]
                mark = _marks(item).get(str(due[0]))
                condition = head.does_not_exist() if mark is None else head == mark
                work.update(
                    item,
                    [Item.reminders[str(n)].set(sent) for n in due],
                    condition & lifecycle.ITEM.check(Item, item.status),
                )
            if current:
                items = [item for item, _ in current]
                work.notify(
                    user_id,
                    "storage_reminder",
                    {
                        "days": threshold,
                        "count": len(items),
                        "items": [
                            {"item_id": i.item_id, "title": i.title, "expires_at": i.storage_expires_at}
                            for i in items
                        ],
                    },
                )
            return work

        return build


def _marks(item: Item) -> dict:
    return item.reminders.as_dict() if hasattr(item.reminders, "as_dict") else dict(item.reminders or {})


def _reread(item_id: str) -> Item | None:
    try:
        return Item.get(item_id, consistent_read=True)
    except Item.DoesNotExist:
        return None


def start_history(day: date) -> None:
    """Record that nothing was stored before `day` (a new stack), so the first run catches up from
    there instead of a fixed look-back. Leaves an existing checkpoint alone."""
    try:
        JobState.get(JOB, consistent_read=True)
    except JobState.DoesNotExist:
        JobState(JOB, state={"abandon_done_through": (day - timedelta(days=1)).isoformat()}).save(
            condition=JobState.job.does_not_exist()
        )


def run(context=None) -> dict:
    sweep = Sweep(clock.now(), context)
    finished = True
    try:
        sweep.abandon()
        sweep.remind()
        sweep.remind_packages()
        sweep.feedback()
    except OutOfTime:
        finished = False
        log.warning("stopping before the Lambda time limit; the next run continues", extra=dict(sweep.stats))
    result = {"job": JOB, "now": sweep.now_iso, "finished": finished, **dict(sweep.stats)}
    log.info("storage sweep", extra=result)
    return result
