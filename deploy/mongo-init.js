// Run once by the mongo-init service: make mongo1..3 the replica set rs0 (if not done
// yet), then wait until it has elected a primary, so chatkit starts on a writable set.
const members = [
  { _id: 0, host: "mongo1:27017" },
  { _id: 1, host: "mongo2:27017" },
  { _id: 2, host: "mongo3:27017" },
];
try {
  rs.status();
  print("replica set rs0 already initiated");
} catch (e) {
  if (e.codeName !== "NotYetInitialized") throw e;
  rs.initiate({ _id: "rs0", members });
  print("replica set rs0 initiated");
}
for (let i = 0; i < 120; i++) {
  const primary = db.hello().primary;
  if (primary) {
    print("primary: " + primary);
    quit(0);
  }
  sleep(1000);
}
print("no primary elected within 120 s");
quit(1);
