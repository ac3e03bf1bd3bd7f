-- Row locks held by a transaction: a second locker waits and proceeds on commit (seeing the
-- committed row), NOWAIT fails at once and aborts the block, SKIP LOCKED leaves the row out.
A: insert into locks values (1, 'a', 0);
A: insert into locks values (2, 'b', 0);
A: insert into locks values (3, 'c', 0);
A: begin;
A: select * from locks where id = 1 for update;
B: begin;
B: select * from locks where id = 1 for update;
A: update locks set value = 'a2', version = version + 1 where id = 1;
A: commit;
B: commit;
A: begin;
A: select * from locks where id in (1, 2) order by id for update;
B: begin;
B: select * from locks where id = 2 for update nowait;
B: select * from locks where id = 3;
B: commit;
B: select * from locks where id in (1, 2, 3) order by id for update skip locked;
C: select * from locks where id in (1, 2, 3) order by id;
A: rollback;
A: rollback;
A: commit;
A: begin;
A: begin;
A: commit;
