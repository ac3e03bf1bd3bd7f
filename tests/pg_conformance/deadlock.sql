-- Two transactions lock two rows in opposite orders: the one that has waited for
-- deadlock_timeout (1 s) first runs the check and is cancelled; the other proceeds.
A: insert into locks values (1, 'a', 0);
A: insert into locks values (2, 'b', 0);
A: begin;
B: begin;
A: select * from locks where id = 1 for update;
B: select * from locks where id = 2 for update;
A: select * from locks where id = 2 for update;
B: select * from locks where id = 1 for update;
sleep 1500ms
A: select * from locks where id = 1;
A: rollback;
B: commit;
