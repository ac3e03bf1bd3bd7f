-- lock_timeout cancels a wait; the holder's later commit hands the row to nobody; a waiter
-- queued behind another is served in turn.
A: insert into locks values (1, 'a', 0);
A: begin;
A: select * from locks where id = 1 for update;
B: set lock_timeout = '1s';
B: begin;
B: select * from locks where id = 1 for update;
sleep 1500ms
B: select * from locks where id = 1;
B: rollback;
C: begin;
C: update locks set value = 'c', version = version + 1 where id = 1;
B: set lock_timeout = 0;
B: update locks set value = 'b', version = version + 1 where id = 1;
A: commit;
C: commit;
B: select * from locks where id = 1;
