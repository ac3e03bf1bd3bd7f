-- The optimistic lock: the version column guards the write; a writer that waited behind
-- another's update of the same version updates nothing once that commits, and its row once
-- that rolls back; a guarded locking read is checked again after its wait.
A: insert into locks values (1, 'a', 0);
A: insert into locks values (2, 'b', 0);
A: insert into locks values (2, 'again', 0);
A: update locks set value = 'a1', version = version + 1 where id = 1 and version = 0;
B: update locks set value = 'b1', version = version + 1 where id = 1 and version = 0;
A: begin;
A: update locks set value = 'a2', version = version + 1 where id = 1 and version = 1;
B: update locks set value = 'b2', version = version + 1 where id = 1 and version = 1;
A: commit;
A: begin;
A: update locks set value = 'a3', version = version + 1 where id = 2 and version = 0;
B: update locks set value = 'b3', version = version + 1 where id = 2 and version = 0;
A: rollback;
A: begin;
A: update locks set value = 'a4', version = version + 1 where id = 1 and version = 2;
B: select * from locks where id = 1 and version = 2 for update;
C: select * from locks where id in (1, 2) order by id;
A: commit;
C: select * from locks where id in (1, 2) order by id;
A: update locks set value = 'a5', version = version + 1 where id = 1 and version = 3 returning *;
A: update locks set value = 'a6', version = version + 1 where id = 1 and version = 3 returning *;
A: begin;
A: update locks set value = 'a7', version = version + 1 where id = 2 returning *;
B: update locks set value = 'b7', version = version + 1 where id = 2 returning *;
A: commit;
